using Nex.Client;
using Nex.Node.Nats;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.Fleet;

/// <summary>Every accepted deploy is recorded in the desired-state bucket before the node answers (issue 17 item 1).</summary>
public sealed class DesiredStateTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Deploy_IsRecordedBeforeTheAnswer_WithTheSealedEnvironment_AndStopRemovesIt()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var issuer = NexKeys.CreateAccount();
        var body = Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", issuer: issuer, location: location, env: new Dictionary<string, string> { ["SECRET_LUGGAGE"] = "hunter2-12345" });
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, body);
        Assert.Null(error);

        // Read right after the answer: no waiting.
        var key = DesiredState.Key("default", id!);
        var (record, raw, _) = await ReadAsync(node.Connection, key);
        Assert.NotNull(record);
        Assert.Equal(node.NodeId, record.NodeId);
        Assert.Equal(id, record.WorkloadId);
        Assert.Equal("sleeper", record.Name);
        Assert.Equal("default", record.Namespace);
        Assert.Equal(DesiredState.OriginDeploy, record.Origin);
        var sent = System.Text.Json.JsonSerializer.Deserialize(body, NexJson.Context.DeployRequest)!;
        Assert.Equal(sent.Environment, record.Request.Environment); // still sealed to the node's xkey
        Assert.Equal(sent.WorkloadJwt, record.Request.WorkloadJwt);
        Assert.Equal(sent.SenderPublicKey, record.Request.SenderPublicKey);
        Assert.Equal(location, $"nats://{record.Request.Location.Host}{record.Request.Location.Path}");
        Assert.DoesNotContain("hunter2", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET_LUGGAGE", raw, StringComparison.Ordinal);

        var stop = await new NexClient(node.Connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(15) }).StopAsync(node.NodeId, WorkloadRequestsForTests.Stop(node.NodeId, id!, "sleeper", issuer), Ct);
        Assert.True(stop.Stopped);
        Assert.Null((await ReadAsync(node.Connection, key)).Record); // gone when the reply says stopped
    }

    [Fact]
    public async Task EssentialRestart_UpdatesTheSameRecord_WithTheNewIdAndRetryCount()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { EssentialRestart = new() { InitialBackoffMs = 200, MaxBackoffMs = 400 } });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "flaky", Artifacts.Script("/bin/sleep 0.3\nexit 3"));
        var (first, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "flaky", location: location, essential: true));
        Assert.Null(error);
        var key = DesiredState.Key("default", first!);
        var created = (await ReadAsync(node.Connection, key)).Record!;

        DesiredWorkload? restarted = null;
        await WaitUntilAsync(async () => (restarted = (await ReadAsync(node.Connection, key)).Record) is { RetryCount: >= 1 }, "the restart's record");
        Assert.NotEqual(first, restarted!.WorkloadId);
        Assert.Equal(node.NodeId, restarted.NodeId);
        Assert.Equal(created.CreatedAt, restarted.CreatedAt);
        Assert.True(restarted.UpdatedAt >= created.UpdatedAt);
        Assert.Equal(restarted.RetryCount, restarted.Request.RetryCount);
        Assert.Null((await ReadAsync(node.Connection, DesiredState.Key("default", restarted.WorkloadId))).Record); // one record per workload
        await node.Client.LameDuckAsync(node.NodeId, Ct); // no more restarts while the test ends
    }

    [Fact]
    public async Task WorkloadThatExitsByItself_IsNoLongerDesired()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "quitter", Artifacts.Script("/bin/sleep 0.5\nexit 7"));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "quitter", location: location));
        Assert.Null(error);
        Assert.NotNull((await ReadAsync(node.Connection, DesiredState.Key("default", id!))).Record);
        await events.WaitForEventAsync("workload_undeployed", id!);
        await WaitUntilAsync(async () => (await ReadAsync(node.Connection, DesiredState.Key("default", id!))).Record is null, "the record to go");
    }

    [Fact]
    public async Task NodeWhoseAccountRefusesTheBucket_DeploysAsBefore_AndInfoSaysWhy()
    {
        // JetStream works (the artifact's object store is the account's one stream) but the bucket is refused.
        using var dir = new TempDirectory();
        var config = dir.File("nats.conf");
        await File.WriteAllTextAsync(config, $$"""
            jetstream { store_dir: "{{dir.File("js")}}" }
            accounts { A { jetstream { max_streams: 1, max_consumers: -1, max_mem: -1, max_file: -1 }, users: [ { user: a, password: a } ] } }
            no_auth_user: a
            """, Ct);
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { ConfigFile = config, JetStream = false }, cancellationToken: Ct);
        await using var uploader = await Nex.Nats.NexConnection.ConnectAsync(new Nex.Nats.NexConnectionOptions { Server = server.ClientUrl }, Ct);
        var location = await Artifacts.UploadAsync(uploader, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));

        await using var node = await TestNode.StartAsync(server.ClientUrl);
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        Assert.StartsWith("unavailable: JetStream refused the NEX_DESIRED bucket: maximum number of streams reached", info.DesiredState, StringComparison.Ordinal);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location));
        Assert.Null(error);
        Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines, m => m.Id == id);
    }

    [Fact]
    public async Task NodeWithoutJetStream_StartsAsBefore_AndOnlyInfoSaysDesiredStateIsUnavailable()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = false }, cancellationToken: Ct);
        await using var node = await TestNode.StartAsync(server.ClientUrl);
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        Assert.Equal("unavailable: no JetStream on the main NATS", info.DesiredState);
        Assert.Null(node.Node.Recovered is { } r && (r.Recovered + r.Failed) > 0 ? "recovered" : null);

        // A healthy node (on JetStream) leaves the field out: 0.2's INFO to the key.
        await using var normal = await TestNode.StartAsync(nats.Url);
        using var reply = await Wire.RequestAsync(normal.Connection, $"$NEX.INFO.default.{normal.NodeId}");
        Assert.False(reply!.RootElement.GetProperty("data").TryGetProperty("desired_state", out _));
    }
}
