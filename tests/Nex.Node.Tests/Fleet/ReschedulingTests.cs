using System.Diagnostics;
using System.Text;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Node.Config;
using Nex.Node.Fleet;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.Fleet;

/// <summary>
/// The workloads of a dead node move to a live one (issue 17 item 3): nodes on a real 3-server cluster with short
/// timings (heartbeat 200 ms, grace 1 s). Each test has its own cluster: the records its nodes leave behind must not
/// become another test's orphans.
/// </summary>
public sealed class ReschedulingTests : IDisposable
{
    // The nexus xkey the nodes of a test share (distinct xkeys only where a test says so).
    private readonly TempDirectory _keys = new();
    private readonly string _xkey;

    public ReschedulingTests()
    {
        _xkey = Path.Combine(_keys.Path, "nexus.xk");
        NexKeys.WriteSeedFile(_xkey, NexKeys.CreateCurve());
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _keys.Dispose();

    [Fact]
    public async Task DeadNode_ItsService_MovesToExactlyOneOfTwoSurvivors_AndAnswers()
    {
        await using var cluster = await NatsClusterFixture.StartAsync(Ct);
        await using var a = await StartNodeAsync(cluster.Urls);
        await using var b = await StartNodeAsync(cluster.Urls);
        await using var c = await StartNodeAsync(cluster.Urls);
        await using var caller = await ConnectAsync(cluster.Urls);
        await using var rescheduled = await Recorder.StartAsync(caller, "$NEX.events.default.workload_rescheduled");
        var (subject, key) = await DeployEchoAsync(caller, a);

        var clock = Stopwatch.StartNew();
        await a.DisposeAsync(); // its record stays; its lease goes silent
        var moved = (await rescheduled.WaitAsync((_, e) => e.GetProperty("data").GetProperty("key").GetString() == key, TimeSpan.FromSeconds(30), "workload_rescheduled")).Body.GetProperty("data");
        await AnswersAsync(caller, subject);
        TestContext.Current.TestOutputHelper?.WriteLine($"node gone to the service answering on another: {clock.ElapsedMilliseconds} ms");

        var to = moved.GetProperty("to_node").GetString();
        Assert.Equal(a.NodeId, moved.GetProperty("from_node").GetString());
        Assert.Contains(to, new[] { b.NodeId, c.NodeId });
        Assert.Equal("echoservice", moved.GetProperty("name").GetString());
        var record = (await ReadAsync(caller, key)).Record!;
        Assert.Equal(to, record.NodeId);
        Assert.Equal(moved.GetProperty("workload_id").GetString(), record.WorkloadId);
        Assert.False(record.Handoff);

        // Exactly one claimed it: a few heartbeats later one copy runs, on the node the record names.
        await Task.Delay(TimeSpan.FromSeconds(1), Ct); // a second claim would take at most one heartbeat per rank
        var copies = await CopiesAsync(caller, "echoservice");
        Assert.Equal([to!], copies);
        Assert.Single(rescheduled.All);
    }

    [Fact]
    public async Task DistinctXkeys_TheMoveIsReported_AndTheRecordIsKept()
    {
        await using var cluster = await NatsClusterFixture.StartAsync(Ct);
        await using var a = await StartNodeAsync(cluster.Urls, sharedXkey: false);
        await using var b = await StartNodeAsync(cluster.Urls, sharedXkey: false);
        await using var caller = await ConnectAsync(cluster.Urls);
        await using var failures = await Recorder.StartAsync(caller, "$NEX.events.default.workload_recovery_failed");
        var (_, key) = await DeployEchoAsync(caller, a);
        var before = (await ReadAsync(caller, key)).Record!;

        await a.DisposeAsync();
        var failed = (await failures.WaitAsync((_, e) => e.GetProperty("data").GetProperty("key").GetString() == key, TimeSpan.FromSeconds(30), "workload_recovery_failed")).Body.GetProperty("data");
        Assert.Equal(b.NodeId, failed.GetProperty("node_id").GetString());
        Assert.Equal(Rescheduler.SealedElsewhere, failed.GetProperty("reason").GetString());

        // Put back as it was: still A's (A can recover it when it returns), nothing runs, reported once per backoff.
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        var after = (await ReadAsync(caller, key)).Record!;
        Assert.Equal(a.NodeId, after.NodeId);
        Assert.Equal(before.WorkloadId, after.WorkloadId);
        Assert.Empty(await CopiesAsync(caller, "echoservice"));
        Assert.Single(failures.All);
    }

    [Fact]
    public async Task Partition_TheCutOffNodesCopyStops_OnceItIsBack_AndOneCopyRemains()
    {
        await using var cluster = await NatsClusterFixture.StartAsync(noAdvertise: true, Ct); // A cannot fail over to another server
        await using var a = await StartNodeAsync(cluster.Url(0));
        await using var b = await StartNodeAsync(cluster.Url(1));
        await using var caller = await ConnectAsync(cluster.Url(2));
        await using var rescheduled = await Recorder.StartAsync(caller, "$NEX.events.default.workload_rescheduled");
        await using var undeployed = await Recorder.StartAsync(caller, "$NEX.events.default.workload_undeployed");
        var (subject, key) = await DeployEchoAsync(caller, a);
        var first = (await ReadAsync(caller, key)).Record!.WorkloadId;

        // A is cut off (its only server stops); B takes the workload over after the grace. JetStream, one server short,
        // can leave B's first tries unanswered on a loaded machine, and B waits 5, 10, 20 s between them: a minute.
        await cluster.StopServerAsync(0);
        var moved = (await rescheduled.WaitAsync((_, e) => e.GetProperty("data").GetProperty("key").GetString() == key, TimeSpan.FromSeconds(60), "workload_rescheduled")).Body.GetProperty("data");
        TestContext.Current.TestOutputHelper?.WriteLine($"A={a.NodeId} B={b.NodeId} rescheduled: {moved}");
        Assert.Equal(b.NodeId, moved.GetProperty("to_node").GetString());
        await AnswersAsync(caller, subject);

        // A comes back, finds the record on B, and stops its own copy (not restarted, the record stays B's).
        await cluster.StartServerAsync(0, Ct);
        var ended = await undeployed.WaitAsync((_, e) => e.GetProperty("data").GetProperty("vmid").GetString() == first, TimeSpan.FromSeconds(30), "A's copy undeployed");
        Assert.Equal("Workload moved to another node", ended.Body.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal([b.NodeId], await NatsClusterWaits.EventuallyAsync(
            async () => await CopiesAsync(caller, "echoservice") is [_] one ? one : throw new TimeoutException("not exactly one copy yet"),
            "exactly one copy",
            cancellationToken: Ct));
        Assert.Equal(b.NodeId, (await ReadAsync(caller, key)).Record!.NodeId);
        await AnswersAsync(caller, subject);
        Assert.DoesNotContain(key, a.Node.Workloads.HeldDesiredKeys);
    }

    [Fact]
    public async Task HandedOffRecord_OfALiveNode_IsClaimed_AndItsCopyThereStopsAtOnce()
    {
        await using var cluster = await NatsClusterFixture.StartAsync(Ct);
        await using var a = await StartNodeAsync(cluster.Urls);
        await using var b = await StartNodeAsync(cluster.Urls);
        await using var caller = await ConnectAsync(cluster.Urls);
        await using var rescheduled = await Recorder.StartAsync(caller, "$NEX.events.default.workload_rescheduled");
        await using var undeployed = await Recorder.StartAsync(caller, "$NEX.events.default.workload_undeployed");
        var (subject, key) = await DeployEchoAsync(caller, a);
        var (record, _, revision) = await ReadAsync(caller, key);

        // What a drain does: the record is released while its node is alive.
        var store = await DesiredStateStore.OpenAsync(caller, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, Ct);
        Assert.NotNull(await store.TryClaimAsync(key, revision, record! with { Handoff = true }, Ct));

        var moved = (await rescheduled.WaitAsync((_, e) => e.GetProperty("data").GetProperty("key").GetString() == key, TimeSpan.FromSeconds(30), "workload_rescheduled")).Body.GetProperty("data");
        Assert.Equal(a.NodeId, moved.GetProperty("from_node").GetString());
        Assert.Equal(b.NodeId, moved.GetProperty("to_node").GetString());
        var ended = await undeployed.WaitAsync((_, e) => e.GetProperty("data").GetProperty("vmid").GetString() == record.WorkloadId, TimeSpan.FromSeconds(30), "A's copy undeployed");
        Assert.Equal("Workload moved to another node", ended.Body.GetProperty("data").GetProperty("reason").GetString());
        await AnswersAsync(caller, subject);
        Assert.Equal([b.NodeId], await CopiesAsync(caller, "echoservice"));
        var after = (await ReadAsync(caller, key)).Record!;
        Assert.Equal(b.NodeId, after.NodeId);
        Assert.False(after.Handoff);
    }

    [Fact]
    public async Task Drain_TheServiceMovesToTheOtherNode_BeforeItsCopyStops_AndTheNodeAsksToExit()
    {
        await using var cluster = await NatsClusterFixture.StartAsync(Ct);
        await using var a = await StartNodeAsync(cluster.Urls);
        await using var b = await StartNodeAsync(cluster.Urls);
        await using var caller = await ConnectAsync(cluster.Urls);
        await using var undeployed = await Recorder.StartAsync(caller, "$NEX.events.default.workload_undeployed");
        await using var drained = await Recorder.StartAsync(caller, "$NEX.events.system.node_drained");
        var (subject, key) = await DeployEchoAsync(caller, a);
        var first = (await ReadAsync(caller, key)).Record!.WorkloadId;

        // nex lameduck: A releases the record, B's rescheduler claims it and starts its copy, then A's copy ends.
        Assert.True((await new NexClient(caller).LameDuckAsync(a.NodeId, Ct)).Success);
        await a.Node.StopRequested.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var ended = await undeployed.WaitAsync((_, e) => e.GetProperty("data").GetProperty("vmid").GetString() == first, TimeSpan.FromSeconds(10), "A's copy undeployed");
        Assert.Equal("Workload moved to another node", ended.Body.GetProperty("data").GetProperty("reason").GetString());
        var summary = (await drained.WaitAsync((_, e) => e.GetProperty("data").GetProperty("node_id").GetString() == a.NodeId, TimeSpan.FromSeconds(10), "node_drained")).Body.GetProperty("data");
        Assert.Equal(1, summary.GetProperty("moved").GetInt32());
        Assert.Equal(0, summary.GetProperty("stopped").GetInt32());

        var record = (await ReadAsync(caller, key)).Record!;
        Assert.Equal(b.NodeId, record.NodeId);
        Assert.NotEqual(first, record.WorkloadId);
        Assert.False(record.Handoff);
        await AnswersAsync(caller, subject);
        Assert.Equal([b.NodeId], await CopiesAsync(caller, "echoservice"));
    }

    [Fact]
    public async Task LameDuckNode_AndNodeWithReschedulingOff_ClaimNothing()
    {
        await using var cluster = await NatsClusterFixture.StartAsync(Ct);
        await using var a = await StartNodeAsync(cluster.Urls);
        await using var lameDuck = await StartNodeAsync(cluster.Urls);
        await using var off = await TestNode.StartAsync(
            cluster.Urls,
            c => c with { XkeySeedFile = _xkey, Fleet = new FleetConfig { HeartbeatMs = 200, LeaseGraceMs = 1_000, Reschedule = false } },
            clientTimeout: TimeSpan.FromSeconds(2));
        await using var caller = await ConnectAsync(cluster.Urls);
        await using var events = await Recorder.StartAsync(caller, "$NEX.events.default.>");
        var (_, key) = await DeployEchoAsync(caller, a);
        await NatsClusterWaits.EventuallyAsync(() => new NexClient(caller).LameDuckAsync(lameDuck.NodeId, Ct), "lame duck", cancellationToken: Ct);

        await a.DisposeAsync();

        // Several graces on: nobody may claim, so nothing happens (a negative can only be waited out).
        await Task.Delay(TimeSpan.FromSeconds(4), Ct);
        Assert.DoesNotContain(events.All, e => e.Subject.EndsWith(".workload_rescheduled", StringComparison.Ordinal) || e.Subject.EndsWith(".workload_recovery_failed", StringComparison.Ordinal));
        Assert.Equal(a.NodeId, (await ReadAsync(caller, key)).Record!.NodeId);
        Assert.Empty(await CopiesAsync(caller, "echoservice"));
    }

    private Task<TestNode> StartNodeAsync(string url, bool sharedXkey = true) =>
        TestNode.StartAsync(
            url,
            c => c with { XkeySeedFile = sharedXkey ? _xkey : null, Fleet = new FleetConfig { HeartbeatMs = 200, LeaseGraceMs = 1_000 } },
            clientTimeout: TimeSpan.FromSeconds(2));

    private static async Task<NatsConnection> ConnectAsync(string urls) =>
        await NexConnection.ConnectAsync(new NexConnectionOptions { Server = urls, ConnectionName = "nex-fleet-test" }, Ct);

    // The echo service (R3 artifact) on node, answering on a subject of its own; its subject and desired-state key.
    private static async Task<(string Subject, string Key)> DeployEchoAsync(NatsConnection caller, TestNode node)
    {
        var location = await Artifacts.UploadAsync(caller, Bucket(), "echoservice", await File.ReadAllBytesAsync(Examples.EchoService, Ct), replicas: 3);
        var subject = "svc.echo." + Guid.NewGuid().ToString("N")[..8];
        await NatsClusterWaits.EventuallyAsync(() => new NexClient(caller).PingNodeAsync(node.NodeId, Ct), "the node's PING", cancellationToken: Ct);
        var (id, error) = await Wire.DeployAsync(caller, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, issuer: NexKeys.CreateAccount(), location: location, argv: [subject], env: new Dictionary<string, string> { ["GREETING"] = "hi" }), timeout: TimeSpan.FromSeconds(15));
        Assert.Null(error);
        await AnswersAsync(caller, subject);
        return (subject, DesiredState.Key("default", id!));
    }

    private static async Task AnswersAsync(NatsConnection caller, string subject)
    {
        var reply = await NatsClusterWaits.EventuallyAsync(
            async () => (await caller.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes("ping"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(1) }, cancellationToken: Ct)).Data!,
            "the service's answer",
            TimeSpan.FromSeconds(30),
            Ct);
        Assert.Equal("ping", Encoding.UTF8.GetString(reply));
    }

    // The nodes that run a copy of the workload, one entry per copy (WPING).
    private static async Task<string[]> CopiesAsync(NatsConnection caller, string name)
    {
        var pongs = await new NexClient(caller, new NexClientOptions { Timeout = TimeSpan.FromSeconds(1) }).WorkloadPingAsync(name, Ct);
        return [.. pongs.SelectMany(p => p.RunningMachines.Select(_ => p.NodeId))];
    }
}
