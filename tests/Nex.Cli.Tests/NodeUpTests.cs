using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>The main job, as a user runs it: <c>nex node up</c> with no server, then other commands.</summary>
public sealed class NodeUpTests
{
    private static Dictionary<string, string?> Env(TempDirectory home) => new Dictionary<string, string?> { ["NEX_HOME"] = home.Path, ["HOME"] = home.Path };

    private static async Task<(CliProcess Node, string Url, string PidFile)> StartNodeAsync(TempDirectory home, params string[] extra)
    {
        var port = CliTestSupport.FreePort();
        var pidFile = home.File("nex.pid");
        await File.WriteAllTextAsync(home.File("config.json"), $$"""{ "pid_filepath": "{{pidFile}}", "tags": { "simple": "true" } }""");
        var node = CliProcess.Start(["node", "up", "--config", home.File("config.json"), "--embedded-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra], Env(home));
        await node.WaitForOutputAsync(" is up on ", TimeSpan.FromSeconds(60));
        return (node, $"nats://127.0.0.1:{port}", pidFile);
    }

    [Fact]
    public async Task NodeUp_StartsEmbeddedNats_AndTheOtherCommandsSeeIt()
    {
        using var home = new TempDirectory();
        var (node, url, pidFile) = await StartNodeAsync(home);
        await using var _ = node;
        Assert.Contains("started an embedded nats-server", node.StdOut + node.StdErr, StringComparison.Ordinal);
        Assert.True(File.Exists(pidFile));

        var ls = await CliProcess.RunAsync(["node", "ls", "-s", url, "--json"], Env(home));
        Assert.Equal(0, ls.ExitCode);
        using var nodes = JsonDocument.Parse(ls.StdOut);
        var ping = Assert.Single(nodes.RootElement.EnumerateArray());
        var nodeId = ping.GetProperty("node_id").GetString()!;
        Assert.Equal("true", ping.GetProperty("tags").GetProperty("simple").GetString());
        Assert.False(string.IsNullOrEmpty(ping.GetProperty("uptime").GetString()));

        var table = await CliProcess.RunAsync(["node", "ls", "-s", url], Env(home));
        Assert.Contains(nodeId, table.StdOut, StringComparison.Ordinal);
        Assert.Contains("simple=true", table.StdOut, StringComparison.Ordinal);

        var name = ping.GetProperty("tags").GetProperty("node_name").GetString()!;
        var info = await CliProcess.RunAsync(["node", "info", name, "-s", url], Env(home));
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("Memory (kB)", info.StdOut, StringComparison.Ordinal);
        Assert.Contains("No workloads", info.StdOut, StringComparison.Ordinal);

        var events = CliProcess.Start(["events", "-s", url], Env(home));
        await using var __ = events;
        await CliTestSupport.UntilWatchersSeeAProbeAsync(url, "lameduck", events); // subscribed
        var lameDuck = await CliProcess.RunAsync(["lameduck", nodeId[..10], "-s", url], Env(home));
        Assert.Equal(0, lameDuck.ExitCode);
        Assert.Contains($"Command to enter lame duck mode issued to {nodeId}", lameDuck.StdOut, StringComparison.Ordinal);
        await events.WaitForOutputAsync("node_entered_lameduck", TimeSpan.FromSeconds(20));

        // Nothing to move: the drain ends at once and the node exits by itself (0.2 stayed up in lame duck; the '*'
        // of a lame-duck node in `node ls` is checked while a drain waits, in Fleet/DrainNodeUpTests).
        await node.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, node.ExitCode);
        Assert.False(File.Exists(pidFile));
        Assert.Empty(CliTestSupport.Children(node.Pid, "nats-server"));
    }

    [Fact]
    public async Task ScatterGather_StopsAfterTheLastReply_NotAtTheTimeout()
    {
        using var home = new TempDirectory();
        var (node, url, _) = await StartNodeAsync(home);
        await using var __ = node;

        // --timeout stays the upper bound; one node answers at once, so each command ends a quiet gap later.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ls = await CliProcess.RunAsync(["node", "ls", "-s", url, "--json", "--timeout", "20s"], Env(home));
        var lsTime = watch.Elapsed;
        Assert.Equal(0, ls.ExitCode);
        using var nodes = JsonDocument.Parse(ls.StdOut);
        var name = Assert.Single(nodes.RootElement.EnumerateArray()).GetProperty("tags").GetProperty("node_name").GetString()!;
        Assert.True(lsTime < TimeSpan.FromSeconds(10), $"node ls took {lsTime}");

        watch.Restart();
        var info = await CliProcess.RunAsync(["node", "info", name, "-s", url, "--timeout", "20s"], Env(home));
        Assert.Equal(0, info.ExitCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"node info <name> took {watch.Elapsed}");
    }

    [Fact]
    public async Task SecondNode_WithTheSamePidFile_IsRefused()
    {
        using var home = new TempDirectory();
        var (node, url, _) = await StartNodeAsync(home);
        await using var __ = node;
        var second = await CliProcess.RunAsync(["node", "up", "--config", home.File("config.json"), "-s", url], Env(home));
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains($"node process already running; pid: {node.Pid}", second.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KillMinus9_WithAWorkloadRunning_LeavesNoProcessBehind()
    {
        using var home = new TempDirectory();
        var (node, url, _) = await StartNodeAsync(home);
        await using var __ = node;
        await using var connection = await Nex.Nats.NexConnection.ConnectAsync(new Nex.Nats.NexConnectionOptions { Server = url }, TestContext.Current.CancellationToken);
        var nodeId = (await new Nex.Client.NexClient(connection).PingAsync(TestContext.Current.CancellationToken)).Single().NodeId;
        var xkey = (await new Nex.Client.NexClient(connection).InfoAsync(nodeId, TestContext.Current.CancellationToken)).PublicXkey;
        var location = await Artifacts.UploadAsync(connection, "KILLTEST", "sleeper", Artifacts.Script("/bin/sleep 300"));
        var (id, error) = await Wire.DeployAsync(connection, nodeId, Wire.DeployJson(nodeId, xkey, name: "sleeper", location: location));
        Assert.Null(error);
        await CliTestSupport.WaitUntilAsync(() => LiveProcesses.WithCommandLine($"workload-{id}").Count > 0, TimeSpan.FromSeconds(10), "the workload");

        var family = Nex.Processes.ProcessTree.Descendants(node.Pid);
        Assert.True(family.Count >= 4, $"expected nats-server x2, agent(s), workload; saw {family.Count}");
        node.Signal(9);
        await node.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await CliTestSupport.WaitUntilAsync(
            () => family.All(pid => !Nex.Processes.Posix.IsAlive(pid) || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            "every child of the killed node to die");
    }

    [Fact]
    public async Task KillMinus9_LeavesNoNatsServerBehind()
    {
        using var home = new TempDirectory();
        var (node, url, _) = await StartNodeAsync(home);
        await using var __ = node;
        var servers = CliTestSupport.Children(node.Pid, "nats-server");
        Assert.Equal(2, servers.Count); // the embedded main server and the internal one
        node.Signal(9);
        await node.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await CliTestSupport.WaitUntilAsync(
            () => servers.All(server => !Nex.Processes.Posix.IsAlive(server) || File.ReadAllText($"/proc/{server}/stat").Contains(") Z ", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            "the nats-servers to die");
    }
}
