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
        await cluster.StopServerAsync(1);
        await cluster.StopServerAsync(2);
        var node = CliProcess.Start(["node", "up", "--server", cluster.Urls, "--config", home.File("config.json")], new Dictionary<string, string?> { ["NEX_HOME"] = home.Path, ["HOME"] = home.Path });
        await using var _ = node;
        await node.WaitForOutputAsync(" is up on ", TimeSpan.FromSeconds(60));
        await Task.WhenAll(cluster.StartServerAsync(1, ct), cluster.StartServerAsync(2, ct));

        await using var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = cluster.Url(1) }, ct);
        var client = new NexClient(watcher, new NexClientOptions { Timeout = TimeSpan.FromSeconds(1) });
        var nodeId = await UntilAsync(async () => (await client.PingAsync(ct)).Single().NodeId, TimeSpan.FromSeconds(15), ct);

        var clock = Stopwatch.StartNew();
        await cluster.KillServerAsync(0);
        var pong = await UntilAsync(() => client.PingNodeAsync(nodeId, ct), TimeSpan.FromSeconds(10), ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"nex node up: kill -9 of its server to its PING via another: {clock.ElapsedMilliseconds} ms");
        Assert.Equal(nodeId, pong.NodeId);
        Assert.False(node.Exited.IsCompleted, node.StdErr);
        Assert.Equal(1, (await client.InfoAsync(nodeId, ct)).NatsDisconnects);

        node.Signal(15);
        await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, node.ExitCode);
    }

    // A node's subscriptions reach other servers over the routes, and it reconnects, a moment later: ask until it answers.
    private static async Task<T> UntilAsync<T>(Func<Task<T>> ask, TimeSpan within, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await ask();
            }
            catch (Exception ex) when (ex is NexClientException or InvalidOperationException && clock.Elapsed < within)
            {
                await Task.Delay(50, ct);
            }
        }
    }
}
