using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.ControlApi;

/// <summary>
/// Lame duck on the node's clock (spec §4.11): it has no deadline (0.2.x neither drains nor stops the node), and
/// its event carries the node's time of entering it (our fix of §11 #13), not the start time.
/// </summary>
public sealed class LameDuckClockTests(NatsServerFixture nats)
{
    private static readonly DateTimeOffset Start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public async Task LameDuck_IsStampedWithTheNodesClock_AndHasNoDeadline()
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(Start);
        await using var node = await TestNode.StartAsync(nats.Url, options: o => o with { Time = time });
        await using var events = await node.Connection.SubscribeCoreAsync<byte[]>("$NEX.events.system.node_entered_lameduck", cancellationToken: ct);
        await node.Connection.PingAsync(ct);

        time.Advance(TimeSpan.FromHours(1));
        Assert.True((await node.Client.LameDuckAsync(node.NodeId, ct)).Success);
        var evt = await events.Msgs.ReadAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), ct);
        using (var doc = JsonDocument.Parse(evt.Data!))
        {
            Assert.Equal(Start.AddHours(1), doc.RootElement.GetProperty("time").GetDateTimeOffset());
        }

        // A week later on the node's clock: still up, still lame duck, still refusing deploys; no second event.
        time.Advance(TimeSpan.FromDays(7));
        var ping = await node.Client.PingNodeAsync(node.NodeId, ct);
        Assert.Equal("true", ping.Tags!["nex.lameduck"]);
        Assert.Equal("Node is in lame duck mode. Workload deploy request denied", await DeployErrorAsync(node));
        Assert.True((await node.Client.LameDuckAsync(node.NodeId, ct)).Success);

        // The repeated request above was answered after any event it could have caused was published on the
        // same connection, so an empty queue now means none was.
        await node.Connection.PingAsync(ct);
        Assert.False(events.Msgs.TryRead(out _));
    }

    private static async Task<string?> DeployErrorAsync(TestNode node)
    {
        using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.DEPLOY.default.{node.NodeId}", Wire.DeployJson(node.NodeId, node.Node.PublicXKey), TimeSpan.FromSeconds(5));
        Assert.NotNull(reply);
        return reply.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
    }
}
