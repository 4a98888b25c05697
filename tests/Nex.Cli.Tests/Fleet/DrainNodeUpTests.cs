using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests.Fleet;

/// <summary><c>nex lameduck</c> drains a <c>nex node up</c> process, which then exits 0 (0.2's node never exits).</summary>
public sealed class DrainNodeUpTests
{
    [Fact]
    public async Task LameDuck_NodeUpWithAServiceNobodyTakes_StopsItAtTheDeadline_AndExitsZero()
    {
        using var home = new TempDirectory();
        var (node, url, nodeId) = await EmbeddedNode.StartAsync(home, """, "fleet": { "drain_timeout_ms": 4000 }""");
        await using var _ = node;

        // A service with a record in NEX_DESIRED (the embedded server has JetStream), and no other node to take it.
        var subject = "svc.drain." + Guid.NewGuid().ToString("N")[..8];
        var devrun = await CliProcess.RunAsync(["devrun", Examples.EchoService, "--argv", subject, "-s", url], EmbeddedNode.Env(home));
        Assert.True(devrun.ExitCode == 0, devrun.StdErr);

        var clock = Stopwatch.StartNew();
        var lameDuck = await CliProcess.RunAsync(["lameduck", nodeId, "-s", url], EmbeddedNode.Env(home));
        Assert.Equal(0, lameDuck.ExitCode);
        Assert.Contains($"Command to enter lame duck mode issued to {nodeId}", lameDuck.StdOut, StringComparison.Ordinal);

        // While it waits for a taker it is listed as lame duck ('*').
        var during = await CliProcess.RunAsync(["node", "ls", "-s", url, "--timeout", "2s"], EmbeddedNode.Env(home));
        Assert.Contains(nodeId + "*", during.StdOut, StringComparison.Ordinal);
        Assert.False(node.Exited.IsCompleted);

        await AssertExitedCleanlyAsync(node, home, "Drained: 0 moved, 1 stopped; exiting");
        TestContext.Current.TestOutputHelper?.WriteLine($"nex lameduck to the node's exit (drain_timeout_ms 4000): {clock.ElapsedMilliseconds} ms");
        await LiveProcesses.WaitUntilGoneAsync(subject, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task LameDuck_NodeUpWithoutWorkloads_ExitsZeroAtOnce()
    {
        using var home = new TempDirectory();
        var (node, url, nodeId) = await EmbeddedNode.StartAsync(home, "");
        await using var _ = node;

        var clock = Stopwatch.StartNew();
        Assert.Equal(0, (await CliProcess.RunAsync(["lameduck", nodeId, "-s", url], EmbeddedNode.Env(home))).ExitCode);

        // Nothing to move: no wait for the default 60 s deadline.
        await AssertExitedCleanlyAsync(node, home, "Drained: 0 moved, 0 stopped; exiting");
        TestContext.Current.TestOutputHelper?.WriteLine($"nex lameduck to the exit of a node without workloads: {clock.ElapsedMilliseconds} ms");
    }

    // The node exits by itself, with 0 and the drain's line, leaving neither its PID file nor its nats-server.
    private static async Task AssertExitedCleanlyAsync(CliProcess node, TempDirectory home, string drained)
    {
        await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, node.ExitCode);
        Assert.Contains(drained, node.StdOut + node.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(home.File("nex.pid")));
        Assert.Empty(CliTestSupport.Children(node.Pid, "nats-server"));
    }
}
