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

    // A fake node offering the artifact (a module or a script), and the real agent, past its handshake.
    internal static async Task<(FakeNode Node, AgentProcess Agent)> StartAgentAsync(string artifact, int? processorCount = null)
    {
        var node = await FakeNode.StartAsync(Token);
        AgentProcess? agent = null;
        try
        {
            node.OfferArtifact(artifact);
            var environment = node.AgentEnvironment();
            if (processorCount is { } count)
            {
                environment["DOTNET_PROCESSOR_COUNT"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            agent = AgentProcess.Start(environment);
            await node.AnswerHandshakesAsync(Token);
            await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
            return (node, agent);
        }
        catch
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            await node.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task DeployAndTrigger_ThroughTheAgentProcess()
    {
        var (node, agent) = await StartAgentAsync(WasmModules.ExitWithStatus);
        await using var nodeScope = node;
        await using var agentScope = agent;

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
    public async Task RunawayRecursion_TrapsInTheAgentProcess_WhichGoesOnServing()
    {
        // The execution runs on the agent's trigger thread: WebAssembly's stack limit, not that thread's end, stops it.
        var (node, agent) = await StartAgentAsync(WasmModules.RecurseOnInput);
        await using var nodeScope = node;
        await using var agentScope = agent;
        var request = FakeNode.NativeRequest("wasmfn") with { WorkloadType = WorkloadTypes.Wasm, TriggerSubjects = ["fn.>"], FunctionTimeoutMs = 5000 };
        Assert.True((await node.DeployAsync(request, Token)).Accepted, agent.Output);

        var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "fn.deep" };
        var failed = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "deep"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Equal("function trapped: wasm trap: call stack exhausted", failed.Headers![FunctionErrors.Header].ToString());
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), [], headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Equal("ok", Encoding.UTF8.GetString(reply.Data!));
        Assert.Empty(await node.UndeployAsync(Token));
    }

    [Fact]
    public async Task InvalidModule_IsRejectedAtDeploy()
    {
        var (node, agent) = await StartAgentAsync("(module (func (export \"run\")))");
        await using var nodeScope = node;
        await using var agentScope = agent;

        var request = FakeNode.NativeRequest("wasmfn") with { WorkloadType = WorkloadTypes.Wasm, TriggerSubjects = ["fn.>"] };
        var rejected = await node.DeployAsync(request, Token);
        Assert.Equal("Failed to validate workload: the module is not a WASI command: it exports no _start function", rejected.Message);
    }
}
