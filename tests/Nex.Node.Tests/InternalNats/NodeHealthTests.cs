using System.Net;
using System.Net.Sockets;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.InternalNats;

/// <summary>A node whose internal server cannot come back says so: events, PING, INFO, AUCTION, deploys (issue 15 item 7).</summary>
public sealed class NodeHealthTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnInternalServerThatCannotRestart_MakesTheNodeVisiblyUnhealthy_UntilItIsBack()
    {
        // The first restart waits 2 s, time enough to take the port away from it.
        await using var node = await TestNode.StartAsync(
            nats.Url,
            options: o => o with { InternalNatsRestart = Nex.Node.InternalNats.RestartPolicyOptions.Default with { FirstDelay = TimeSpan.FromSeconds(2) } });
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.system.>");
        var port = node.Node.InternalNats.Port;
        Assert.Null((await node.Client.PingNodeAsync(node.NodeId, Ct)).Unhealthy);

        Nex.Processes.Posix.Signal(node.Node.InternalNats.ProcessId, Nex.Processes.Posix.SIGKILL);
        bool Ours(System.Text.Json.JsonElement e) => e.GetProperty("source").GetString() == node.NodeId; // other tests' nodes share the NATS server
        var restarting = await events.WaitAsync((s, b) => s.EndsWith(".node_unhealthy", StringComparison.Ordinal) && Ours(b), TimeSpan.FromSeconds(10), "node_unhealthy (restarting)");
        Assert.Equal("the internal NATS server exited; restarting it", restarting.Body.GetProperty("data").GetProperty("reason").GetString());
        Assert.False(restarting.Body.GetProperty("data").GetProperty("healthy").GetBoolean());
        Assert.Equal(node.NodeId, restarting.Body.GetProperty("source").GetString());

        // The server is gone (the event says so): someone takes its port while the restart waits.
        var squatter = new TcpListener(IPAddress.Loopback, port);
        squatter.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        squatter.Start();
        string reason;
        try
        {
            var failed = await events.WaitAsync(
                (s, b) => s.EndsWith(".node_unhealthy", StringComparison.Ordinal) && Ours(b) && b.GetProperty("data").GetProperty("reason").GetString()!.Contains("could not be restarted", StringComparison.Ordinal),
                TimeSpan.FromSeconds(15),
                "node_unhealthy (could not restart)");
            reason = failed.Body.GetProperty("data").GetProperty("reason").GetString()!;
            Assert.StartsWith($"the internal NATS server could not be restarted on port {port}: ", reason, StringComparison.Ordinal);

            // Everyone who asks is told, in one line.
            Assert.Equal(reason, (await node.Client.PingNodeAsync(node.NodeId, Ct)).Unhealthy);
            Assert.Equal(reason, (await node.Client.InfoAsync(node.NodeId, Ct)).Unhealthy);
            Assert.DoesNotContain(await node.Client.AuctionAsync(cancellationToken: Ct), p => p.NodeId == node.NodeId);
            var location = await Artifacts.UploadAsync(node.Connection, "H" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "sleeper", Artifacts.Script("/bin/sleep 300"));
            var (_, rejected) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location));
            Assert.Equal($"Failed to deploy workload: the node is unhealthy: {reason}", rejected);
        }
        finally
        {
            squatter.Stop();
        }

        // The port is free again: the next attempt (backing off from 250 ms) brings it back.
        await events.WaitAsync((s, b) => s.EndsWith(".node_healthy", StringComparison.Ordinal) && Ours(b), TimeSpan.FromSeconds(15), "node_healthy");
        Assert.Null((await node.Client.PingNodeAsync(node.NodeId, Ct)).Unhealthy);
        Assert.Equal(port, node.Node.InternalNats.Port);
        var again = await Artifacts.UploadAsync(node.Connection, "H" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: again), timeout: TimeSpan.FromSeconds(20));
        Assert.True(error is null, error);
        Assert.Contains((await node.Client.InfoAsync(node.NodeId, Ct)).Machines, m => m.Id == id);
    }
}
