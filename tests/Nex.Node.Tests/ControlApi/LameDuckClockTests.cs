using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Nex.Protocol;
using Nex.Testing;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.ControlApi;

/// <summary>
/// Lame duck on the node's clock (spec §4.11): its event carries the node's time of entering it (our fix of §11
/// #13), not the start time; and, unlike 0.2.x (which never drains nor stops the node, Nex issue #302), the drain
/// ends at <c>fleet.drain_timeout_ms</c> on that clock, when the node asks to exit.
/// </summary>
public sealed class LameDuckClockTests(NatsServerFixture nats)
{
    private static readonly DateTimeOffset Start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public async Task LameDuck_IsStampedWithTheNodesClock_AndTheNodeExitsAtTheDrainDeadline()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(Start);
        await using var node = await TestNode.StartAsync(nats.Url, options: o => o with { Time = time });
        await using var events = await node.Connection.SubscribeCoreAsync<byte[]>("$NEX.events.system.node_entered_lameduck", cancellationToken: ct);
        await node.Connection.PingAsync(ct);
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("exec /bin/sleep 300"));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location));
        Assert.Null(error);

        time.Advance(TimeSpan.FromHours(1));
        Assert.True((await node.Client.LameDuckAsync(node.NodeId, ct)).Success);
        // Other tests' nodes on the shared server enter lame duck too: only this node's event counts.
        JsonDocument doc;
        do
        {
            var evt = await events.Msgs.ReadAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), ct);
            doc = JsonDocument.Parse(evt.Data!);
        }
        while (!IsFrom(doc, node.NodeId));

        using (doc)
        {
            Assert.Equal(Start.AddHours(1), doc.RootElement.GetProperty("time").GetDateTimeOffset());
        }

        // Half the drain's 60 s later on the node's clock, with nobody to take the sleeper: still up, still lame
        // duck, still refusing deploys, the sleeper still running; no second event.
        var key = DesiredState.Key("default", id!);
        await WaitUntilAsync(async () => (await ReadAsync(node.Connection, key)).Record is { Handoff: true }, "the record released");
        time.Advance(TimeSpan.FromSeconds(30));
        var ping = await node.Client.PingNodeAsync(node.NodeId, ct);
        Assert.Equal("true", ping.Tags!["nex.lameduck"]);
        Assert.Equal("Node is in lame duck mode. Workload deploy request denied", await DeployErrorAsync(node));
        Assert.True((await node.Client.LameDuckAsync(node.NodeId, ct)).Success);
        Assert.False(node.Node.StopRequested.IsCompleted);
        Assert.Single((await node.Client.InfoAsync(node.NodeId, ct)).Machines);

        // The repeated request above was answered after any event it could have caused was published on the
        // same connection, so an empty queue now means none was.
        await node.Connection.PingAsync(ct);
        while (events.Msgs.TryRead(out var other))
        {
            using var otherDoc = JsonDocument.Parse(other.Data!);
            Assert.False(IsFrom(otherDoc, node.NodeId), "a second node_entered_lameduck");
        }

        // Past the deadline: the sleeper stops (its record stays, released for any node) and the node asks to exit.
        time.Advance(TimeSpan.FromSeconds(31));
        await node.Node.StopRequested.WaitAsync(TimeSpan.FromSeconds(15), ct);
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, ct)).Machines);
        Assert.True((await ReadAsync(node.Connection, key)).Record!.Handoff);
    }

    private static bool IsFrom(JsonDocument doc, string nodeId) =>
        doc.RootElement.TryGetProperty("data", out var data) && data.TryGetProperty("id", out var id) && id.GetString() == nodeId;

    private static async Task<string?> DeployErrorAsync(TestNode node)
    {
        using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.DEPLOY.default.{node.NodeId}", Wire.DeployJson(node.NodeId, node.Node.PublicXKey), TimeSpan.FromSeconds(5));
        Assert.NotNull(reply);
        return reply.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
    }
}
