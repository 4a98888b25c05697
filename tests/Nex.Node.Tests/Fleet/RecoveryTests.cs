using Microsoft.Extensions.Time.Testing;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.Client.ObjectStore;
using Nex.Nats;
using Nex.Node.Fleet;
using Nex.Node.Nats;
using Nex.Protocol;
using Nex.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.Fleet;

/// <summary>A node that starts again with the same identity runs its recorded workloads again (issue 17 item 2).</summary>
public sealed class RecoveryTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NodeStartedAgainWithTheSameSeeds_RunsItsWorkloadAgain_ExactlyOnce()
    {
        using var keys = new TempDirectory();
        var (nodeSeed, xkeySeed, nodeId) = NewIdentity(keys.Path);
        string first, location;
        await using (var before = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed }))
        {
            Assert.Equal(nodeId, before.NodeId);
            location = await Artifacts.UploadAsync(before.Connection, Bucket(), "sleeper", Artifacts.Script("echo \"secret=$SECRET\"\nexec /bin/sleep 300"));
            var (id, error) = await Wire.DeployAsync(before.Connection, before.NodeId, Wire.DeployJson(before.NodeId, before.Node.PublicXKey, name: "sleeper", location: location, env: new Dictionary<string, string> { ["SECRET"] = "opened-again" }));
            Assert.Null(error);
            first = id!;
        }

        // A node shutdown keeps the record (the node comes back); its workload is gone.
        var key = DesiredState.Key("default", first);
        await using var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        Assert.Equal(first, (await ReadAsync(watcher, key)).Record!.WorkloadId);
        await using var logs = await Recorder.StartAsync(watcher, $"$NEX.logs.default.{nodeId}.sleeper.>");

        await using var after = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed });
        await after.Node.StartupDeploys.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(new Recovery.Result(1, 0, 0), after.Node.Recovered);
        var machine = Assert.Single((await after.Client.InfoAsync(after.NodeId, Ct)).Machines);
        Assert.Equal("sleeper", machine.Workload.Name);
        Assert.NotEqual(first, machine.Id);
        var record = (await ReadAsync(watcher, key)).Record!;
        Assert.Equal(machine.Id, record.WorkloadId); // same record, new id
        Assert.Equal(nodeId, record.NodeId);

        // The environment opened with the same xkey.
        var line = await logs.WaitAsync((s, b) => s.EndsWith("." + machine.Id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.Contains("secret=", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the env line");
        Assert.Contains("secret=opened-again", line.Body.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordOfAnotherNode_IsNotRun()
    {
        using var keys = new TempDirectory();
        var (nodeSeed, xkeySeed, _) = NewIdentity(keys.Path);
        string? id;
        await using (var other = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed }))
        {
            var location = await Artifacts.UploadAsync(other.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
            (id, _) = await Wire.DeployAsync(other.Connection, other.NodeId, Wire.DeployJson(other.NodeId, other.Node.PublicXKey, name: "sleeper", location: location));
        }

        await using var node = await TestNode.StartAsync(nats.Url); // another identity
        await node.Node.StartupDeploys.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(0, node.Node.Recovered!.Recovered);
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);
        Assert.NotNull((await ReadAsync(node.Connection, DesiredState.Key("default", id!))).Record); // still the other node's
    }

    [Fact]
    public async Task RecordThatCannotRunAgain_IsReported_AndRemoved()
    {
        using var keys = new TempDirectory();
        var (nodeSeed, xkeySeed, nodeId) = NewIdentity(keys.Path);
        var bucket = Bucket();
        string? id;
        await using (var before = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed }))
        {
            var location = await Artifacts.UploadAsync(before.Connection, bucket, "sleeper", Artifacts.Script("/bin/sleep 300"));
            (id, _) = await Wire.DeployAsync(before.Connection, before.NodeId, Wire.DeployJson(before.NodeId, before.Node.PublicXKey, name: "sleeper", location: location));
        }

        await using var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        await new NatsObjContext(new NatsJSContext(watcher)).DeleteObjectStore(bucket, Ct); // the artifact is gone
        await using var events = await Recorder.StartAsync(watcher, "$NEX.events.default.workload_recovery_failed");

        await using var after = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed });
        var failed = await events.WaitAsync((_, b) => b.GetProperty("data").GetProperty("key").GetString() == DesiredState.Key("default", id!), TimeSpan.FromSeconds(30), "the recovery failure");
        var data = failed.Body.GetProperty("data");
        Assert.Equal(nodeId, data.GetProperty("node_id").GetString());
        Assert.Equal("sleeper", data.GetProperty("name").GetString());
        Assert.StartsWith("Failed to cache workload bytes:", data.GetProperty("reason").GetString(), StringComparison.Ordinal);
        await after.Node.StartupDeploys.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(new Recovery.Result(0, 1, 0), after.Node.Recovered);
        Assert.Null((await ReadAsync(watcher, DesiredState.Key("default", id!))).Record);
        Assert.Empty((await after.Client.InfoAsync(after.NodeId, Ct)).Machines);
    }

    [Fact]
    public async Task AutostartWorkload_RunsOnceAfterARestart_FromTheConfigNotTheRecord()
    {
        using var keys = new TempDirectory();
        var (nodeSeed, xkeySeed, nodeId) = NewIdentity(keys.Path);
        var bucket = Bucket();
        await using var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        await Artifacts.UploadAsync(watcher, bucket, "greeter", Artifacts.Script("/bin/sleep 300"));
        var ns = "auto" + Guid.NewGuid().ToString("N")[..6];
        var autostart = new AutostartConfig { Workloads = [new AutostartDeployRequest { Name = "greeter", Namespace = ns, Type = "native", Location = $"nats://{bucket}/greeter" }] };
        var client = (TestNode n) => new Nex.Client.NexClient(n.Connection, new Nex.Client.NexClientOptions { Namespace = ns, Timeout = TimeSpan.FromSeconds(2) });

        string first;
        await using (var before = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed, Autostart = autostart }))
        {
            await before.Node.StartupDeploys.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            first = Assert.Single((await client(before).InfoAsync(nodeId, Ct)).Machines).Id;
            var record = (await ReadAsync(watcher, DesiredState.Key(ns, first))).Record!;
            Assert.Equal(DesiredState.OriginAutostart, record.Origin);
        }

        await using var after = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed, Autostart = autostart });
        await after.Node.StartupDeploys.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var machine = Assert.Single((await client(after).InfoAsync(nodeId, Ct)).Machines); // once, not twice
        Assert.Equal(new Recovery.Result(0, 0, 0), after.Node.Recovered);
        Assert.Null((await ReadAsync(watcher, DesiredState.Key(ns, first))).Record); // the old record went
        Assert.Equal(machine.Id, (await ReadAsync(watcher, DesiredState.Key(ns, machine.Id))).Record!.WorkloadId);
    }

    [Fact]
    public async Task TryClaim_AtAStaleRevision_LosesCleanly()
    {
        await using var connection = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        var store = await DesiredStateStore.OpenAsync(connection, NullLogger.Instance, Ct);
        Assert.Null(store.Unavailable);
        Assert.Equal(1, store.Replicas); // a lone server
        var key = DesiredState.Key("claims", Xid.NewId());
        var record = new DesiredWorkload { Namespace = "claims", Name = "w", NodeId = "N1", WorkloadId = "a" };
        var created = (await store.PutAsync(key, record, Ct))!.Value;

        // Two nodes read the record at the same revision; the first claim wins, the second loses.
        var won = await store.TryClaimAsync(key, created, record with { NodeId = "N2" }, Ct);
        var lost = await store.TryClaimAsync(key, created, record with { NodeId = "N3" }, Ct);
        Assert.NotNull(won);
        Assert.Null(lost);
        Assert.Equal("N2", (await store.GetAsync(key, Ct))!.Workload.NodeId);

        // Removal at a stale revision leaves the record to its new owner.
        Assert.False(await store.RemoveAsync(key, created, Ct));
        Assert.True(await store.RemoveAsync(key, won, Ct));
        Assert.Null(await store.GetAsync(key, Ct));
    }
    [Fact]
    public async Task Put_ThatFailsFast_IsTriedAgain_AndLandsOnceTheBucketAnswers()
    {
        // Its own server: the bucket is deleted under the store, which would upset every other test's nodes.
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: Ct);
        await using var connection = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        var time = new TimerSignallingTime();
        var store = await DesiredStateStore.OpenAsync(connection, NullLogger.Instance, Ct, time);
        var kv = new NatsKVContext(new NatsJSContext(connection));
        await kv.DeleteStoreAsync(DesiredState.Bucket, Ct);

        var key = DesiredState.Key("retry", Xid.NewId());
        var put = store.PutAsync(key, new DesiredWorkload { Namespace = "retry", Name = "w", NodeId = "N1", WorkloadId = "a" }, Ct);
        await Task.WhenAny(time.TimerCreated, put).WaitAsync(Ct); // the first write failed (no stream): a retry waits
        Assert.False(put.IsCompleted, "the failed write was not tried again");

        _ = await DesiredStateStore.OpenAsync(connection, NullLogger.Instance, Ct); // the bucket is back
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.NotNull(await put);
        Assert.Equal("a", (await store.GetAsync(key, Ct))!.Workload.WorkloadId);
    }

    /// <summary>Fake time that says when something starts waiting on it.</summary>
    private sealed class TimerSignallingTime : FakeTimeProvider
    {
        private readonly TaskCompletionSource _created = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task TimerCreated => _created.Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            _created.TrySetResult();
            return timer;
        }
    }
}
