using Nex.Node.Tests.InternalNats;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>Nothing is left in <c>$TMPDIR</c> after a <c>kill -9</c> of an agent or of the node (issue 15 item 9).</summary>
public sealed class LeftoverTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnAgentsArtifact_IsInTheNodesRunDirectory_AndGoesWithTheAgentKilledMinus9()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var id = await InternalNatsRecoveryTests.DeployAsync(node, "sleeper", "native", Artifacts.Script("/bin/sleep 300"));
        // Exactly one: the script's shell forks to run sleep, and until that child has exec'd it shows the shell's command line too.
        await InternalNatsRecoveryTests.WaitUntilAsync(() => Task.FromResult(LiveProcesses.WithCommandLine($"workload-{id}").Count == 1), "the workload's process");
        var workload = Assert.Single(LiveProcesses.WithCommandLine($"workload-{id}"));
        var artifact = File.ReadAllText($"/proc/{workload}/cmdline").Split('\0').Single(a => a.EndsWith($"workload-{id}", StringComparison.Ordinal));

        // Not loose in the shared $TMPDIR, but in the agent's own directory inside this node's (pid-named) one.
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), $"workload-{id}")));
        var agentDirectory = Path.GetDirectoryName(artifact)!;
        Assert.Equal(id, Path.GetFileName(agentDirectory));
        Assert.StartsWith($"nex-agents-{Environment.ProcessId}-", Path.GetFileName(Path.GetDirectoryName(agentDirectory)), StringComparison.Ordinal);
        Assert.True(File.Exists(artifact));

        Nex.Processes.Posix.Signal(Assert.Single(InternalNatsRecoveryTests.AgentPids(id)), Nex.Processes.Posix.SIGKILL);
        await events.WaitForEventAsync("workload_undeployed", id, TimeSpan.FromSeconds(10));
        Assert.False(File.Exists(artifact), "the killed agent's artifact is still there");
        Assert.False(Directory.Exists(agentDirectory), "the killed agent's directory is still there");
    }

    [Fact]
    public async Task AKilledNodesAgentDirectories_AreRemovedAtTheNextStart()
    {
        // What a node killed with -9 leaves: its run directory, an agent's directory, its artifact.
        var deadPid = Enumerable.Range(4_100_000, 1000).First(pid => !Nex.Processes.Posix.IsAlive(pid));
        var stale = Path.Combine(Path.GetTempPath(), $"nex-agents-{deadPid}-abcdef");
        var staleAgent = Directory.CreateDirectory(Path.Combine(stale, "ctest0000000000000000")).FullName;
        await File.WriteAllTextAsync(Path.Combine(staleAgent, "workload-ctest0000000000000000"), "#!/bin/sh\n", Ct);
        try
        {
            // The next node's first agent (the warm pool fills at once) makes the sweep.
            await using var node = await TestNode.StartAsync(nats.Url);
            await InternalNatsRecoveryTests.WaitUntilAsync(() => Task.FromResult(!Directory.Exists(stale)), "the dead node's directory to go");
        }
        finally
        {
            if (Directory.Exists(stale))
            {
                Directory.Delete(stale, recursive: true);
            }
        }
    }
}
