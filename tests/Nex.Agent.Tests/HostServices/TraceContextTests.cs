using System.Collections.Concurrent;
using System.Text;
using NATS.Client.Core;
using Nex.Agent.HostServices;
using Nex.Agent.Tests.V8;
using Nex.Agent.Tests.Wasm;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.HostServices;

/// <summary>
/// The trigger's W3C headers carried into the function's host-service requests (V8 and WebAssembly), per call:
/// concurrent calls each carry their own, and a call without a context adds nothing.
/// </summary>
public sealed class TraceContextTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static string Parent(int i) => $"00-{i + 1:x32}-{i + 1:x16}-01";

    [Fact]
    public void From_NeedsATraceparent_AndCopyTo_ReplacesWhatTheFunctionSet()
    {
        Assert.Null(TraceContext.From(null));
        Assert.Null(TraceContext.From(new NatsHeaders { ["x-nex-trigger-subject"] = "a.b", ["tracestate"] = "k=v" }));

        var trace = TraceContext.From(new NatsHeaders { ["traceparent"] = Parent(1), ["tracestate"] = "k=v", ["baggage"] = "tenant=acme" })!;
        Assert.Equal((Parent(1), "k=v", "tenant=acme"), (trace.TraceParent, trace.TraceState, trace.Baggage));

        var headers = new NatsHeaders { ["x-keyvalue-key"] = "k", ["traceparent"] = "00-forged-01", ["tracestate"] = "mine=1" };
        TraceContext.From(new NatsHeaders { ["traceparent"] = Parent(2) })!.CopyTo(headers);
        Assert.Equal(Parent(2), headers["traceparent"].ToString());
        Assert.False(headers.ContainsKey("tracestate"));
        Assert.Equal("k", headers["x-keyvalue-key"].ToString());
    }

    [Fact]
    public async Task V8_ConcurrentCalls_EachCarryTheirOwnContext_AndACallWithoutOneAddsNothing()
    {
        await using var node = await FakeNode.StartAsync(Token);
        var seen = new ConcurrentBag<(string Key, string? Parent, string? Baggage)>();
        await using var responder = await Responder.StartAsync(node, seen);
        await using var fn = await V8Harness.StartAsync(
            "async (s, p) => { await hostServices.kv.get(s); await hostServices.kv.get(s + '.second'); return s; }",
            Token,
            connection: node.Connection,
            agentId: node.AgentId);

        const int Calls = 16;
        await Task.WhenAll(Enumerable.Range(0, Calls).Select(i => TracedAsync(i, () => fn.CallAsync($"c{i}", "", Token))));
        Assert.Equal("\"plain\"", await fn.CallAsync("plain", "", Token));

        AssertCarried(seen, Calls, perCall: 2);
    }

    [Fact]
    public async Task Wasm_ConcurrentCalls_EachCarryTheirOwnContext_AndACallWithoutOneAddsNothing()
    {
        await using var node = await FakeNode.StartAsync(Token);
        var seen = new ConcurrentBag<(string Key, string? Parent, string? Baggage)>();
        await using var responder = await Responder.StartAsync(node, seen);
        await using var fn = await WasmFunction.DeployAsync(WasmModules.HostCall("kv", "set", ""), connection: node.Connection, agentId: node.AgentId);

        const int Calls = 16;
        await Task.WhenAll(Enumerable.Range(0, Calls).Select(i => TracedAsync(i, () => fn.Provider.ExecuteAsync("fn.x", Encoding.UTF8.GetBytes($"c{i}"), Token))));
        await fn.Provider.ExecuteAsync("fn.x", "plain"u8.ToArray(), Token);

        AssertCarried(seen, Calls, perCall: 1);
    }

    // As the agent does for one trigger: the context is set in the trigger's own async flow.
    private static async Task TracedAsync<T>(int i, Func<Task<T>> call)
    {
        TraceContext.Current = TraceContext.From(new NatsHeaders { ["traceparent"] = Parent(i), ["baggage"] = $"call={i}" });
        await call();
    }

    private static void AssertCarried(ConcurrentBag<(string Key, string? Parent, string? Baggage)> seen, int calls, int perCall)
    {
        Assert.Equal((calls * perCall) + perCall, seen.Count);
        foreach (var (key, parent, baggage) in seen)
        {
            if (key.StartsWith("plain", StringComparison.Ordinal))
            {
                Assert.Null(parent);
                Assert.Null(baggage);
                continue;
            }

            var i = int.Parse(key.Split('.')[0][1..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(Parent(i), parent);
            Assert.Equal($"call={i}", baggage);
        }
    }

    /// <summary>A stand-in node that records each call's key (or body) with its trace headers and answers OK.</summary>
    private sealed class Responder : IAsyncDisposable
    {
        private readonly INatsSub<byte[]> _sub;
        private readonly Task _loop;

        private Responder(INatsSub<byte[]> sub, Task loop)
        {
            _sub = sub;
            _loop = loop;
        }

        public static async Task<Responder> StartAsync(FakeNode node, ConcurrentBag<(string Key, string? Parent, string? Baggage)> seen)
        {
            var sub = await node.Connection.SubscribeCoreAsync<byte[]>($"hostint.{node.AgentId}.rpc.>", cancellationToken: Token);
            var loop = Task.Run(
                async () =>
                {
                    await foreach (var msg in sub.Msgs.ReadAllAsync())
                    {
                        var key = msg.Headers?.TryGetValue(HostServicesProtocol.KeyHeader, out var k) == true ? k.ToString() : Encoding.UTF8.GetString(msg.Data ?? []);
                        seen.Add((key, Header(msg, "traceparent"), Header(msg, "baggage")));
                        await msg.ReplyAsync("ok"u8.ToArray(), new NatsHeaders { [HostServicesProtocol.CodeHeader] = "200", [HostServicesProtocol.MessageHeader] = "OK" });
                    }
                },
                CancellationToken.None);
            await node.Connection.PingAsync(Token);
            return new Responder(sub, loop);
        }

        public async ValueTask DisposeAsync()
        {
            await _sub.UnsubscribeAsync();
            await _loop;
        }

        private static string? Header(NatsMsg<byte[]> msg, string name) =>
            msg.Headers?.TryGetValue(name, out var value) == true ? value.ToString() : null;
    }
}
