using System.Text;
using NATS.Client.Core;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.Wasm;

/// <summary>A WASM function deployed to and triggered through the real agent process.</summary>
public sealed class WasmAgentTests
{
    private static readonly TimeSpan Wait = AgentContractTests.Wait;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DeployAndTrigger_ThroughTheAgentProcess()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact(WasmModules.ExitWithStatus);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.AnswerHandshakesAsync(Token);
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        var request = FakeNode.NativeRequest("wasmfn") with { WorkloadType = WorkloadTypes.Wasm, TriggerSubjects = ["fn.>"], FunctionTimeoutMs = 1000 };
        var deployed = await node.DeployAsync(request, Token);
        Assert.True(deployed.Accepted, deployed.Message + "\n" + agent.Output);

        var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "fn.hello" };
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "0 hello"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Equal("0 hello", Encoding.UTF8.GetString(reply.Data!));

        // A failing run: answered at once with the error headers, and the reason in the workload's stderr log.
        var failed = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "3 bad"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Empty(failed.Data ?? []);
        Assert.Equal("function exited with status 3", failed.Headers![FunctionErrors.Header].ToString());
        Assert.Equal("500", failed.Headers![FunctionErrors.CodeHeader].ToString());
        await node.Published.WaitForAsync(p => p.IsLog && p.Log.Text?.Contains("function exited with status 3", StringComparison.Ordinal) == true, Wait, "stderr log entry");

        Assert.Empty(await node.UndeployAsync(Token));
    }

    [Fact]
    public async Task InvalidModule_IsRejectedAtDeploy()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact("(module (func (export \"run\")))");
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.AnswerHandshakesAsync(Token);
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        var request = FakeNode.NativeRequest("wasmfn") with { WorkloadType = WorkloadTypes.Wasm, TriggerSubjects = ["fn.>"] };
        var rejected = await node.DeployAsync(request, Token);
        Assert.Equal("Failed to validate workload: the module is not a WASI command: it exports no _start function", rejected.Message);
    }
}
