using System.Text.Json;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests;

/// <summary>Node lifecycle events (spec §7.2): node_started, heartbeat, node_stopped.</summary>
public sealed class NodeEventsTests(NatsServerFixture nats)
{
    [Fact]
    public async Task Node_PublishesStartedHeartbeatAndStopped_AsCloudEvents()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, ct);
        await using var sub = await watcher.SubscribeCoreAsync<byte[]>("$NEX.events.system.*", cancellationToken: ct);
        await watcher.PingAsync(ct);

        var node = await TestNode.StartAsync(nats.Url, options: o => o with { HeartbeatInterval = TimeSpan.FromMilliseconds(200) });
        var nodeId = node.NodeId;
        var seen = new List<(string Type, JsonElement Event)>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (!seen.Any(s => s.Type == "heartbeat"))
        {
            await Collect(sub, nodeId, seen, timeout.Token);
        }

        await node.DisposeAsync();
        while (!seen.Any(s => s.Type == "node_stopped"))
        {
            await Collect(sub, nodeId, seen, timeout.Token);
        }

        var started = seen.First(s => s.Type == "node_started").Event;
        Assert.Equal("1.0", started.GetProperty("specversion").GetString());
        Assert.Equal(nodeId, started.GetProperty("source").GetString());
        Assert.Equal("application/json", started.GetProperty("datacontenttype").GetString());
        Assert.True(Guid.TryParse(started.GetProperty("id").GetString(), out _));
        Assert.False(started.TryGetProperty("namespace", out _)); // node events carry no namespace extension
        Assert.Equal(nodeId, started.GetProperty("data").GetProperty("id").GetString());

        var heartbeat = seen.First(s => s.Type == "heartbeat").Event.GetProperty("data");
        Assert.Equal(nodeId, heartbeat.GetProperty("node_id").GetString());
        Assert.Equal(0, heartbeat.GetProperty("running_machines").GetInt32());
        Assert.Equal("nexus", heartbeat.GetProperty("nexus").GetString());

        var stopped = seen.First(s => s.Type == "node_stopped").Event.GetProperty("data");
        Assert.True(stopped.GetProperty("graceful").GetBoolean());
        Assert.Equal(nodeId, stopped.GetProperty("id").GetString());
    }

    private static async Task Collect(INatsSub<byte[]> sub, string nodeId, List<(string, JsonElement)> seen, CancellationToken ct)
    {
        var msg = await sub.Msgs.ReadAsync(ct);
        var root = JsonDocument.Parse(msg.Data!).RootElement.Clone();
        if (root.GetProperty("source").GetString() == nodeId)
        {
            seen.Add((msg.Subject.Split('.')[3], root));
        }
    }
}
