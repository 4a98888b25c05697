using Nex.Agent.Providers;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>The agent's fatal paths (slow by nature: they wait out the agent's own timeouts), in their own class so they run beside the others.</summary>
public sealed class AgentFailureTests
{
    private static readonly TimeSpan Wait = AgentContractTests.Wait;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LosingTheNode_StopsTheWorkload_AndExitsOne()
    {
        var node = await FakeNode.StartAsync(Token);
        AgentProcess? agent = null;
        try
        {
            node.OfferArtifact(AgentContractTests.StubbornScript);
            await node.AnswerHandshakesAsync(Token);
            var environment = node.AgentEnvironment(stopGraceMs: 300);
            environment["NEX_AGENT_DISCONNECT_GRACE_MS"] = "1000";
            agent = AgentProcess.Start(environment);
            await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
            var deployed = await node.DeployAsync(FakeNode.NativeRequest("stubborn", new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }), Token);
            Assert.True(deployed.Accepted, deployed.Message);
            var (shell, sleeper) = await AgentContractTests.ReadPidsAsync(node);

            await node.Server.DisposeAsync();
            Assert.Equal(1, await agent.WaitForExitAsync(Wait));
            Assert.False(ProcessGroupProbe.IsRunning(shell));
            Assert.False(ProcessGroupProbe.IsRunning(sleeper));
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
