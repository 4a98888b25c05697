using System.Diagnostics;
using Xunit;

namespace Nex.Processes.Tests;

public sealed class ProcessTableTests
{
    [Fact]
    public async Task TreeUsage_SumsTheRootAndItsDescendants()
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("sleep 300 & sleep 300 & echo ready; wait");
        using var process = await ChildProcessLauncher.StartAsync(info);
        try
        {
            Assert.Equal("ready", await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken));

            // The shell forks both sleeps before it prints, but they may still be execing: count, not names.
            var usage = ProcessTable.Read().TreeUsage(process.Id);
            Assert.NotNull(usage);
            Assert.Equal(3, usage.Processes);
            Assert.True(usage.ResidentBytes > 0, $"resident {usage.ResidentBytes}");
            Assert.True(usage.CpuTime >= TimeSpan.Zero);

            // The whole table holds at least this process and the tree.
            var table = ProcessTable.Read();
            Assert.True(table.Count >= 4);
            Assert.True(table.TreeUsage(Environment.ProcessId)!.Processes >= 4);
        }
        finally
        {
            await ProcessTree.TerminateAsync(process, TimeSpan.Zero, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public void TreeUsage_OfAProcessNotInTheSnapshot_IsNull()
    {
        Assert.Null(ProcessTable.Read().TreeUsage(int.MaxValue));
    }
}
