using System.Text;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests.Fleet;

/// <summary>The quick start's node, stopped and started again: the same node, and its workloads come back.</summary>
public sealed class NodeUpRestartTests
{
    [Fact]
    public async Task NodeUpAgain_WithTheSameHome_IsTheSameNode_AndRunsItsServiceAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        using var home = new TempDirectory();
        var port = CliTestSupport.FreePort();
        var (first, url, nodeId) = await EmbeddedNode.StartAsync(home, "", port);
        var subject = "svc.restart." + Guid.NewGuid().ToString("N")[..8];
        await using (first)
        {
            var devrun = await CliProcess.RunAsync(["devrun", Examples.EchoService, "--argv", subject, "-s", url], EmbeddedNode.Env(home));
            Assert.True(devrun.ExitCode == 0, devrun.StdErr);
            first.Signal(15);
            await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, first.ExitCode);
        }

        // Same NEX_HOME: the same identity (default $NEX_HOME/node.nk and node.xk) and the same embedded store.
        var (second, _, again) = await EmbeddedNode.StartAsync(home, "", port);
        await using var _ = second;
        Assert.Equal(nodeId, again);
        Assert.True(File.Exists(home.File("node.nk")) && File.Exists(home.File("node.xk")));

        await using var caller = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = url }, ct);
        var reply = await NatsClusterWaits.EventuallyAsync(
            async () => (await caller.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes("back"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(1) }, cancellationToken: ct)).Data!,
            "the recovered service's answer",
            TimeSpan.FromSeconds(30),
            ct);
        Assert.Equal("back", Encoding.UTF8.GetString(reply));

        var desired = await CliProcess.RunAsync(["workload", "ls", "--desired", "-s", url], EmbeddedNode.Env(home));
        Assert.Contains("yes", desired.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain(" NO", desired.StdOut, StringComparison.Ordinal);
    }
}
