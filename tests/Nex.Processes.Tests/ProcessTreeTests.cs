using System.Diagnostics;
using Xunit;

namespace Nex.Processes.Tests;

public sealed class ProcessTreeTests
{
    private static ProcessStartInfo Shell(string script)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        return info;
    }

    [Fact]
    public async Task Child_LeadsItsGroup_AndTerminateEndsTheWholeTree()
    {
        // A shell that ignores SIGTERM and starts two grandchildren that do too.
        using var process = await ChildProcessLauncher.StartAsync(Shell("trap '' TERM; (trap '' TERM; sleep 300) & (sleep 300) & echo ready; wait"));
        Assert.Equal("ready", await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken));
        Assert.True(ProcessTree.IsGroupLeader(process.Id));
        var tree = ProcessTree.Descendants(process.Id);
        Assert.True(tree.Count >= 2, $"descendants: {tree.Count}");

        await ProcessTree.TerminateAsync(process, TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);
        Assert.True(process.HasExited);

        // SIGKILL is delivered asynchronously: wait (bounded) until the kernel has ended every grandchild.
        using var settle = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        settle.CancelAfter(TimeSpan.FromSeconds(5));
        while (!settle.IsCancellationRequested && tree.Any(pid => Posix.IsAlive(pid) && !IsZombie(pid)))
        {
            await Task.Delay(10, CancellationToken.None);
        }

        Assert.All(tree, pid => Assert.False(Posix.IsAlive(pid) && !IsZombie(pid), $"pid {pid} survived"));
    }

    [Fact]
    public async Task Child_LeadsItsOwnSession_SoTheTerminalsCtrlCDoesNotReachIt()
    {
        // Ctrl-C signals the terminal's foreground process group; a child in a session of its own is not in it.
        using var process = await ChildProcessLauncher.StartAsync(Shell("echo ready; exec sleep 300"));
        await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
        var stat = await File.ReadAllTextAsync($"/proc/{process.Id}/stat", TestContext.Current.CancellationToken);
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal(process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), fields[3]); // session id
        Assert.Equal("0", fields[4]); // no controlling terminal
        await ProcessTree.TerminateAsync(process, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Terminate_PoliteProcess_ExitsOnSigterm()
    {
        using var process = await ChildProcessLauncher.StartAsync(Shell("echo ready; exec sleep 300"));
        await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
        var watch = Stopwatch.StartNew();
        await ProcessTree.TerminateAsync(process, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(143, process.ExitCode);
    }

    [Fact]
    public async Task Launcher_WrappersExecTheProgramInPlace_SamePid()
    {
        // The parent-death signal itself is tested end to end (kill -9 of a node leaves no nats-server).
        using var process = await ChildProcessLauncher.StartAsync(Shell("echo ready; exec sleep 300"));
        await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);

        // "ready" comes before the shell's own exec of sleep: wait for that exec, in the same pid.
        var cmdline = "";
        for (var i = 0; i < 100 && !cmdline.StartsWith("sleep", StringComparison.Ordinal); i++)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
            cmdline = await File.ReadAllTextAsync($"/proc/{process.Id}/cmdline", TestContext.Current.CancellationToken);
        }

        Assert.StartsWith("sleep", cmdline, StringComparison.Ordinal);
        await ProcessTree.TerminateAsync(process, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return true;
        }
    }
}
