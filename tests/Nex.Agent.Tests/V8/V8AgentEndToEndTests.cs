using System.Text;
using NATS.Client.Core;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>A V8 function deployed to and triggered through the real agent process (spec §5.9–5.10).</summary>
public sealed class V8AgentEndToEndTests
{
    private static readonly TimeSpan Wait = AgentContractTests.Wait;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DeployAndTrigger_RepliesWithRuntime_HostServicesWork_ErrorsReachTheLogs()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact(
            """
            async (subject, payload) => {
              if (subject === 'fn.fail') throw new Error('deliberate failure');
              console.log('called on', subject);
              const v = await hostServices.kv.get('greeting');
              return { triggered_on: subject, payload: String.fromCharCode(...payload), kv: String.fromCharCode(...v) };
            }
            """);
        await node.AnswerHandshakesAsync(Token);
        var rpc = await ServeGreetingAsync(node);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        var request = FakeNode.NativeRequest("echo") with { WorkloadType = WorkloadTypes.V8, TriggerSubjects = ["fn.>"] };
        var deployed = await node.DeployAsync(request, Token);
        Assert.True(deployed.Accepted, deployed.Message);

        var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "fn.hello" };
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "hello world"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Equal("""{"triggered_on":"fn.hello","payload":"hello world","kv":"hi"}""", Encoding.UTF8.GetString(reply.Data!));
        Assert.True(long.Parse(reply.Headers![AgentSubjects.RuntimeNsHeader].ToString(), System.Globalization.CultureInfo.InvariantCulture) > 0);

        var failHeaders = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "fn.fail" };
        var failed = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "x"u8.ToArray(), failHeaders, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Empty(failed.Data ?? []);
        Assert.Equal("Error: deliberate failure", failed.Headers![FunctionErrors.Header].ToString());
        Assert.Equal("500", failed.Headers![FunctionErrors.CodeHeader].ToString());
        await node.Published.WaitForAsync(p => p.IsLog && Encoding.UTF8.GetString(p.Data).Contains("deliberate failure", StringComparison.Ordinal), Wait, "error log");
        await node.Published.WaitForAsync(p => p.IsLog && Encoding.UTF8.GetString(p.Data).Contains("called on fn.hello", StringComparison.Ordinal), Wait, "console log");

        // Still serving after the failure.
        reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "again"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
        Assert.Contains("\"payload\":\"again\"", Encoding.UTF8.GetString(reply.Data!), StringComparison.Ordinal);

        Assert.Empty(await node.UndeployAsync(Token));
        await rpc.UnsubscribeAsync();
    }

    [Theory]
    [InlineData(FunctionContexts.Fresh)]
    [InlineData(FunctionContexts.Reuse)]
    public async Task RunawayRecursion_AndAHostCallAtTheStackLimit_Answer_AndTheAgentGoesOnServing(string context)
    {
        // A reused context's call, and a quick fresh one when the agent is idle, run on the agent's trigger thread (a
        // pool thread, not a lane thread of known size): JavaScript's own stack limit must stop the recursion with
        // room left for a host call at that depth.
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact(
            """
            (subject, payload) => {
              if (subject === 'fn.deep') { const f = (n) => f(n + 1) + 1; return f(0); }
              if (subject === 'fn.host') {
                let depth = 0;
                const f = (n) => { try { return f(n + 1); } catch { depth = n; return String.fromCharCode(...hostServices.kv.get('greeting')); } };
                return { kv: f(0), deep: depth > 1000 };
              }
              return subject;
            }
            """);
        await node.AnswerHandshakesAsync(Token);
        var rpc = await ServeGreetingAsync(node);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
        var request = FakeNode.NativeRequest("echo") with { WorkloadType = WorkloadTypes.V8, TriggerSubjects = ["fn.>"], FunctionContext = context };
        Assert.True((await node.DeployAsync(request, Token)).Accepted, agent.Output);

        // A quick call first, so a fresh context's next calls may run on the trigger's thread too (V8Options.InlineBelow).
        Assert.Equal("\"fn.ok\"", Encoding.UTF8.GetString((await TriggerAsync(node, "fn.ok")).Data!));
        var failed = await TriggerAsync(node, "fn.deep");
        Assert.StartsWith("RangeError: Maximum call stack size exceeded", failed.Headers![FunctionErrors.Header].ToString(), StringComparison.Ordinal);
        Assert.Equal("""{"kv":"hi","deep":true}""", Encoding.UTF8.GetString((await TriggerAsync(node, "fn.host")).Data!));
        Assert.Equal("\"fn.ok\"", Encoding.UTF8.GetString((await TriggerAsync(node, "fn.ok")).Data!));

        Assert.Empty(await node.UndeployAsync(Token));
        await rpc.UnsubscribeAsync();
    }

    private static Task<NatsMsg<byte[]>> TriggerAsync(FakeNode node, string subject) =>
        node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), [], new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = subject }, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token).AsTask();

    // Host services as the node would answer them: kv.get of "greeting" is "hi", anything else a 400.
    private static async Task<INatsSub<byte[]>> ServeGreetingAsync(FakeNode node)
    {
        var rpc = await node.Connection.SubscribeCoreAsync<byte[]>($"hostint.{node.AgentId}.rpc.>", cancellationToken: Token);
        _ = Task.Run(
            async () =>
            {
                await foreach (var msg in rpc.Msgs.ReadAllAsync())
                {
                    var ok = msg.Subject.EndsWith(".kv.get", StringComparison.Ordinal) && msg.Headers is { } h && h.TryGetValue(HostServicesProtocol.KeyHeader, out var key) && key.ToString() == "greeting";
                    await msg.ReplyAsync(ok ? "hi"u8.ToArray() : [], new NatsHeaders { [HostServicesProtocol.CodeHeader] = ok ? "200" : "400", [HostServicesProtocol.MessageHeader] = ok ? "OK" : "bad" });
                }
            },
            CancellationToken.None);
        return rpc;
    }
}
