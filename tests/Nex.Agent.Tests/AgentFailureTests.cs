using Nex.Agent.Providers;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>The agent's fatal paths (slow by nature: they wait out the agent's own timeouts), in their own class so they run beside the others.</summary>
public sealed class AgentFailureTests
{
    private static readonly TimeSpan Wait = AgentContractTests.Wait;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LosingTheNode_WithoutAWorkload_ExitsOne()
    {
        var node = await FakeNode.StartAsync(Token);
        AgentProcess? agent = null;
        try
        {
            await node.AnswerHandshakesAsync(Token);
            var environment = node.AgentEnvironment(stopGraceMs: 300);
            environment["NEX_AGENT_DISCONNECT_GRACE_MS"] = "1000";
            agent = AgentProcess.Start(environment);
            await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
            var deadline = DateTime.UtcNow + Wait;
            while (!agent.Output.Contains("ready for a workload", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "the agent never got ready: " + agent.Output);
                await Task.Delay(20, Token); // the handshake's reply is on its way back
            }

            await node.Server.DisposeAsync();
            Assert.Equal(1, await agent.WaitForExitAsync(Wait));
            Assert.Contains("Lost the connection to the node", agent.Output, StringComparison.Ordinal);
        }
        finally
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task LosingTheNodesServer_KeepsARunningWorkload_AndTheAgentAnswersAgainWhenItIsBack()
    {
        // The node restarts a dead internal server on the same port (issue 15 item 7): an agent with a
        // running workload must neither exit nor stop the workload while it waits for it.
        var node = await FakeNode.StartAsync(Token);
        AgentProcess? agent = null;
        try
        {
            node.OfferArtifact(AgentContractTests.StubbornScript);
            await node.AnswerHandshakesAsync(Token);
            var environment = node.AgentEnvironment(stopGraceMs: 300);
            environment["NEX_AGENT_DISCONNECT_GRACE_MS"] = "500";
            agent = AgentProcess.Start(environment);
            await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
            var deployed = await node.DeployAsync(FakeNode.NativeRequest("stubborn", new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }), Token);
            Assert.True(deployed.Accepted, deployed.Message);
            var (shell, sleeper) = await AgentContractTests.ReadPidsAsync(node);

            var running = agent;
            await node.CrashServerAsync(
                async () =>
                {
                    // Two grace periods pass (the agent says so each time), and it is still there.
                    var deadline = DateTime.UtcNow + Wait;
                    while (CountOf(running.Output, "the workload keeps running") < 2)
                    {
                        Assert.False(running.Exited.IsCompleted, running.Output);
                        Assert.True(DateTime.UtcNow < deadline, "the agent never said it keeps the workload: " + running.Output);
                        await Task.Delay(50, Token);
                    }
                },
                Token);
            Assert.False(agent.Exited.IsCompleted, agent.Output);
            Assert.True(ProcessGroupProbe.IsRunning(shell));
            Assert.True(ProcessGroupProbe.IsRunning(sleeper));

            // Back on the same port: the agent reconnects by itself and serves its subjects again.
            var pingDeadline = DateTime.UtcNow + Wait;
            while (true)
            {
                try
                {
                    Assert.Equal("OK", await node.PingAsync(Token));
                    break;
                }
                catch (NATS.Client.Core.NatsException) when (DateTime.UtcNow < pingDeadline)
                {
                    await Task.Delay(100, Token);
                }
            }

            Assert.Contains("Reconnected to the node", agent.Output, StringComparison.Ordinal);
            Assert.Empty(await node.UndeployAsync(Token));
            Assert.False(ProcessGroupProbe.IsRunning(shell));
        }
        finally
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            await node.DisposeAsync();
        }
    }

    private static int CountOf(string text, string fragment)
    {
        var count = 0;
        for (var i = text.IndexOf(fragment, StringComparison.Ordinal); i >= 0; i = text.IndexOf(fragment, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    [Fact]
    public async Task NoHandshakeAnswer_IsFatal()
    {
        await using var node = await FakeNode.StartAsync(Token);
        var environment = node.AgentEnvironment();
        await using var agent = AgentProcess.Start(environment);

        // Nobody answers: after 10 s of retries the agent gives up.
        Assert.Equal(1, await agent.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("Failed to handshake", agent.Output, StringComparison.Ordinal);
    }
}
