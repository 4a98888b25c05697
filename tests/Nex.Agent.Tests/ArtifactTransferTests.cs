using System.Text;
using Nex.Processes;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>
/// How the artifact reaches the agent: inside the deploy request when small, else in chunks on
/// <c>hostint.&lt;id&gt;.artifact</c> (no JetStream; 0.2's <c>NEXCACHE</c> object store is not used), so a
/// node that does not serve a large one fails the deploy.
/// </summary>
public sealed class ArtifactTransferTests
{
    private static readonly TimeSpan Wait = AgentContractTests.Wait;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ChunkedArtifact_IsReassembledExactly()
    {
        await using var node = await FakeNode.StartAsync(Token);
        await node.AnswerHandshakesAsync(Token);

        // ~2.5 MiB: the script reports its own size, then exits before sh reads the padding.
        var script = "#!/bin/sh\nwc -c < \"$0\"\nexit 0\n#" + new string('x', 2_600_000) + "\n";
        var bytes = Encoding.UTF8.GetBytes(script);
        node.OfferArtifact(bytes);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        var deployed = await node.DeployAsync(FakeNode.NativeRequest("big", new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }) with { TotalBytes = bytes.Length }, Token);
        Assert.True(deployed.Accepted, deployed.Message);
        Assert.Equal((bytes.Length + 256 * 1024 - 1) / (256 * 1024), node.ArtifactRequests);

        var exited = await node.Published.WaitForAsync(p => p.IsEvent(EventTypes.WorkloadUndeployed), Wait, "exit");
        Assert.Equal(0, exited.Event.GetData(NexJson.Context.WorkloadUndeployedEvent)!.Code);
        var stdout = string.Concat(node.Published.Snapshot().Where(p => p.IsLog && p.Log.Source == "big").Select(p => p.Log.Text));
        Assert.Equal(bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), stdout.Trim());

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task InlineArtifact_RunsWithoutAFetch_AndAWrongSizeIsRejected()
    {
        await using var node = await FakeNode.StartAsync(Token, serveArtifact: false);
        await node.AnswerHandshakesAsync(Token);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        var bytes = Encoding.UTF8.GetBytes("#!/bin/sh\necho inline\n");
        var wrong = await node.DeployAsync(FakeNode.NativeRequest("inline") with { InlineArtifact = bytes, TotalBytes = bytes.Length + 1 }, Token);
        Assert.False(wrong.Accepted);
        Assert.Equal($"Failed to get and write workload artifact to temp dir: the deploy request carries {bytes.Length} artifact bytes but announces {bytes.Length + 1}", wrong.Message);
        Assert.False(File.Exists(node.ArtifactPath));

        var deployed = await node.DeployAsync(FakeNode.NativeRequest("inline", new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }) with { InlineArtifact = bytes, TotalBytes = bytes.Length }, Token);
        Assert.True(deployed.Accepted, deployed.Message);
        await node.Published.WaitForAsync(p => p.IsLog && p.Log.Source == "inline" && (p.Log.Text ?? "").Contains("inline", StringComparison.Ordinal), Wait, "output");
        Assert.Equal(0, node.ArtifactRequests);

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task NodeRefusal_RejectsTheDeploy_WithItsReason()
    {
        await using var node = await FakeNode.StartAsync(Token);
        await node.AnswerHandshakesAsync(Token);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        var deployed = await node.DeployAsync(FakeNode.NativeRequest("none"), Token);
        Assert.False(deployed.Accepted);
        Assert.Equal("Failed to get and write workload artifact to temp dir: no artifact has been offered to this agent", deployed.Message);
        Assert.False(File.Exists(node.ArtifactPath));

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task WithoutANodeArtifactService_TheDeployIsRejected()
    {
        await using var node = await FakeNode.StartAsync(Token, serveArtifact: false);
        await node.AnswerHandshakesAsync(Token);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        // No object store to fall back on: no responders is the answer, at once (not a chunk timeout).
        var deployed = await node.DeployAsync(FakeNode.NativeRequest("unserved"), Token);
        Assert.False(deployed.Accepted);
        Assert.StartsWith("Failed to get and write workload artifact to temp dir: the node does not serve the artifact", deployed.Message, StringComparison.Ordinal);
        Assert.Contains(AgentSubjects.Artifact(node.AgentId), deployed.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(node.ArtifactPath));
        Assert.Equal("OK", await node.PingAsync(Token));

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
    }
}
