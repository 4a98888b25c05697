using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.Fleet;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.Fleet;

/// <summary>Lame duck drains a real node (issue 17 item 5): its echo service moves to the node that claims it.</summary>
public sealed class DrainOnNodeTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LameDuck_ServiceClaimedByAnotherNode_EndsAsMoved_RecordNamesThatNode_AndTheNodeAsksToStop()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { Fleet = c.Fleet with { DrainTimeoutMs = 30_000 } }, clientTimeout: TimeSpan.FromSeconds(2));
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "echoservice", await File.ReadAllBytesAsync(Examples.EchoService, Ct));
        var subject = "svc.drain." + Guid.NewGuid().ToString("N")[..8];
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: location, argv: [subject]), timeout: TimeSpan.FromSeconds(15));
        Assert.Null(error);
        Assert.Equal("before", await EchoAsync(node.Connection, subject, "before"));
        var key = DesiredState.Key("default", id!);

        Assert.True((await node.Client.LameDuckAsync(node.NodeId, Ct)).Success);

        // Released for another node; the service still answers while nobody has taken it.
        var store = await DesiredStateStore.OpenAsync(node.Connection, NullLogger.Instance, Ct);
        DesiredEntry? released = null;
        await WaitUntilAsync(async () => (released = await store.GetAsync(key, Ct)) is { Workload.Handoff: true }, "the record released");
        Assert.Equal(node.NodeId, released!.Workload.NodeId);
        Assert.Equal("still here", await EchoAsync(node.Connection, subject, "still here"));

        // Another node's rescheduler, simulated: claims it (CAS), then records the id of the copy it started.
        var other = NexKeys.CreateServer().GetPublicKey();
        var claim = released.Workload with { NodeId = other, Handoff = false };
        var claimed = await store.TryClaimAsync(key, released.Revision, claim, Ct);
        Assert.NotNull(claimed);
        Assert.NotNull(await store.TryClaimAsync(key, claimed.Value, claim with { WorkloadId = "NEWCOPY" }, Ct));

        var undeployed = await events.WaitForEventAsync("workload_undeployed", id!);
        Assert.Equal("Workload moved to another node", undeployed.Body.GetProperty("data").GetProperty("reason").GetString());
        await node.Node.StopRequested.WaitAsync(TimeSpan.FromSeconds(15), Ct);
        var drained = await events.WaitAsync((s, b) => s == "$NEX.events.system.node_drained" && IsOf(node, b), TimeSpan.FromSeconds(5), "node_drained");
        var data = drained.Body.GetProperty("data");
        Assert.Equal(node.NodeId, data.GetProperty("node_id").GetString());
        Assert.Equal(1, data.GetProperty("moved").GetInt32());
        Assert.Equal(0, data.GetProperty("stopped").GetInt32());
        Assert.False(data.GetProperty("timed_out").GetBoolean());

        // The record is the taker's, untouched by the moved copy's end.
        var record = (await ReadAsync(node.Connection, key)).Record!;
        Assert.Equal(other, record.NodeId);
        Assert.Equal("NEWCOPY", record.WorkloadId);
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);

        // The host stops the node when asked (nex node up does): it shuts down cleanly.
        await node.Node.DisposeAsync();
        Assert.True(node.Node.Stopped.IsCompleted);
    }

    [Fact]
    public async Task WorkloadNobodyTookByTheDeadline_IsRecoveredByTheSameNodeAfterARestart_NoLongerReleased()
    {
        using var keys = new TempDirectory();
        var (nodeSeed, xkeySeed, nodeId) = NewIdentity(keys.Path);
        string key;
        await using (var before = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed, Fleet = c.Fleet with { DrainTimeoutMs = 500 } }))
        {
            var location = await Artifacts.UploadAsync(before.Connection, Bucket(), "sleeper", Artifacts.Script("exec /bin/sleep 300"));
            var (id, error) = await Wire.DeployAsync(before.Connection, before.NodeId, Wire.DeployJson(before.NodeId, before.Node.PublicXKey, name: "sleeper", location: location));
            Assert.Null(error);
            key = DesiredState.Key("default", id!);
            Assert.True((await before.Client.LameDuckAsync(before.NodeId, Ct)).Success);
            await before.Node.StopRequested.WaitAsync(TimeSpan.FromSeconds(15), Ct);
            Assert.True((await ReadAsync(before.Connection, key)).Record!.Handoff);
        }

        await using var after = await TestNode.StartAsync(nats.Url, c => c with { NodeSeedFile = nodeSeed, XkeySeedFile = xkeySeed });
        await after.Node.StartupDeploys.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(new Recovery.Result(1, 0, 0), after.Node.Recovered);
        var record = (await ReadAsync(after.Connection, key)).Record!;
        Assert.Equal(nodeId, record.NodeId);
        Assert.False(record.Handoff); // this node's again: no longer offered to others
    }

    [Fact]
    public async Task LameDuck_NodeWithoutWorkloads_AsksToStopAtOnce()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.system.>");

        Assert.True((await node.Client.LameDuckAsync(node.NodeId, Ct)).Success);

        await node.Node.StopRequested.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await events.WaitAsync((s, b) => s.EndsWith(".node_drained", StringComparison.Ordinal) && IsOf(node, b), TimeSpan.FromSeconds(5), "node_drained");
        var types = events.All.Where(e => IsOf(node, e.Body)).Select(e => e.Subject).Where(s => s.EndsWith(".node_entered_lameduck", StringComparison.Ordinal) || s.EndsWith(".node_drained", StringComparison.Ordinal)).ToList();
        Assert.Equal(["$NEX.events.system.node_entered_lameduck", "$NEX.events.system.node_drained"], types); // in that order
    }

    // Other tests' nodes share the server: an event of this node names it in its data.
    private static bool IsOf(TestNode node, System.Text.Json.JsonElement body) =>
        body.ValueKind == System.Text.Json.JsonValueKind.Object && body.TryGetProperty("data", out var data) && data.ToString().Contains(node.NodeId, StringComparison.Ordinal);

    private static async Task<string> EchoAsync(NatsConnection connection, string subject, string text)
    {
        var reply = await NatsClusterWaits.EventuallyAsync(
            async () => (await connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(text), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(2) }, cancellationToken: Ct)).Data!,
            "the service's answer",
            cancellationToken: Ct);
        return Encoding.UTF8.GetString(reply);
    }
}
