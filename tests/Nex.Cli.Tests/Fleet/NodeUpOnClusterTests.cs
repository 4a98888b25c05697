using System.Diagnostics;
using Nex.Client;
using Nex.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests.Fleet;

/// <summary><c>nex node up --server a,b,c</c> on a real 3-server NATS cluster, as the README's fleet runs it.</summary>
public sealed class NodeUpOnClusterTests
{
    [Fact]
    public async Task NodeUp_WithEveryServerOfTheCluster_SurvivesTheLossOfItsServer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await NatsClusterFixture.StartAsync(ct);
        using var home = new TempDirectory();
        var pidFile = home.File("nex.pid");
        await File.WriteAllTextAsync(home.File("config.json"), $$"""{ "pid_filepath": "{{pidFile}}" }""", ct);

        // Only server 0 answers while the node starts, so it is the one the node is on; the node gets all three.
        var node = await cluster.WhileOnlyServerRunsAsync(
            0,
            async () =>
            {
                var up = CliProcess.Start(["node", "up", "--server", cluster.Urls, "--config", home.File("config.json")], new Dictionary<string, string?> { ["NEX_HOME"] = home.Path, ["HOME"] = home.Path });
                try
                {
                    await up.WaitForOutputAsync(" is up on ", TimeSpan.FromSeconds(60));
                    return up;
                }
                catch
                {
                    await up.DisposeAsync();
                    throw;
                }
            },
            ct);
        await using var _ = node;

        await using var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = cluster.Url(1) }, ct);
        var client = new NexClient(watcher, new NexClientOptions { Timeout = TimeSpan.FromSeconds(1) });
        var nodeId = await NatsClusterWaits.EventuallyAsync(async () => await client.PingAsync(ct) is [var one] ? one.NodeId : throw new TimeoutException("no node answers yet"), "the node's PING", cancellationToken: ct);

        var clock = Stopwatch.StartNew();
        await cluster.KillServerAsync(0);
        var pong = await NatsClusterWaits.EventuallyAsync(() => client.PingNodeAsync(nodeId, ct), "the node's PING after its server was killed", TimeSpan.FromSeconds(10), ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"nex node up: kill -9 of its server to its PING via another: {clock.ElapsedMilliseconds} ms");
        Assert.Equal(nodeId, pong.NodeId);
        Assert.False(node.Exited.IsCompleted, node.StdErr);
        Assert.Equal(1, (await client.InfoAsync(nodeId, ct)).NatsDisconnects);

        node.Signal(15);
        await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, node.ExitCode);
    }
}
