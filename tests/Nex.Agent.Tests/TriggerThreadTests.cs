using System.Text;
using NATS.Client.Core;
using Nex.Agent.Tests.Wasm;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>
/// The providers that run each call on the trigger's own thread (WASM, V8 with a reused context), through the real
/// agent process on one CPU, where .NET keeps a single pool worker.
/// </summary>
public sealed class TriggerThreadTests
{
    // About 15 ms of work, then "ok" as bytes.
    private const string SpinScript = "(s, p) => { const end = Date.now() + 15; while (Date.now() < end) {} return new Uint8Array([111, 107]); }";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(WorkloadTypes.Wasm)]
    [InlineData(WorkloadTypes.V8)]
    public async Task OnOneCpu_EachReplyLeavesAsItsCallEnds_NotWhenTheCallsQueuedBehindItAreDone(string type)
    {
        // A call holds the trigger's thread until it ends; with one CPU .NET keeps one worker, and without a
        // second the replies waited in NATS.Net's writer until the whole backlog had run (most arrived together).
        var (node, agent) = await WasmAgentTests.StartAgentAsync(type == WorkloadTypes.Wasm ? WasmModules.Spin : SpinScript, processorCount: 1);
        await using var nodeScope = node;
        await using var agentScope = agent;
        var request = FakeNode.NativeRequest("spin") with
        {
            WorkloadType = type,
            TriggerSubjects = ["fn.>"],
            FunctionTimeoutMs = 60_000,
            FunctionContext = type == WorkloadTypes.V8 ? FunctionContexts.Reuse : string.Empty,
        };
        Assert.True((await node.DeployAsync(request, Token)).Accepted, agent.Output);

        var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "fn.spin" };
        var options = new NatsSubOpts { Timeout = TimeSpan.FromSeconds(60) };
        await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), [], headers, replyOpts: options, cancellationToken: Token);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 20).Select(async _ =>
        {
            var reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), [], headers, replyOpts: options, cancellationToken: Token);
            Assert.Equal("ok", Encoding.UTF8.GetString(reply.Data!));
            return clock.Elapsed;
        }).ToArray();
        var arrivals = (await Task.WhenAll(calls)).Order().ToArray();

        // Each reply follows the one before by about a call's run (milliseconds); replies held back arrive together.
        var together = arrivals.Zip(arrivals.Skip(1), (a, b) => b - a).Count(gap => gap < TimeSpan.FromMilliseconds(1));
        Assert.True(together <= 4, $"{together} of 19 replies came less than 1 ms after the one before: {string.Join(' ', arrivals.Select(t => (int)t.TotalMilliseconds))} ms");
    }
}
