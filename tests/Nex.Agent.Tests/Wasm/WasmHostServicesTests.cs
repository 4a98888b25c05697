using System.Text;
using NATS.Client.Core;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.Wasm;

/// <summary><c>nex.host_call</c> against a real nats-server with a stand-in for the node's host services.</summary>
public sealed class WasmHostServicesTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HostCall_SendsServiceMethodHeadersAndBody_AndReturnsTheResult()
    {
        await using var node = await FakeNode.StartAsync(Token);
        var seen = new List<(string Subject, string Headers, string Body)>();
        var sub = await node.Connection.SubscribeCoreAsync<byte[]>($"hostint.{node.AgentId}.rpc.>", cancellationToken: Token);
        var responder = Task.Run(
            async () =>
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync())
                {
                    var headers = string.Join(";", (msg.Headers ?? []).OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key}={h.Value}"));
                    lock (seen)
                    {
                        seen.Add((msg.Subject, headers, Encoding.UTF8.GetString(msg.Data ?? [])));
                    }

                    var fail = msg.Subject.EndsWith(".fail", StringComparison.Ordinal);
                    var reply = new NatsHeaders
                    {
                        [HostServicesProtocol.CodeHeader] = fail ? "500" : "200",
                        [HostServicesProtocol.MessageHeader] = fail ? "failed to get value for key" : "OK",
                    };
                    await msg.ReplyAsync(fail ? [] : Encoding.UTF8.GetBytes("value of " + msg.Headers?[HostServicesProtocol.KeyHeader]), reply);
                }
            },
            CancellationToken.None);

        await using (var function = await WasmFunction.DeployAsync(WasmModules.HostCall("kv", "set", """{"x-keyvalue-key":"k1","x-http-headers":{"A":"b"}}"""), connection: node.Connection, agentId: node.AgentId))
        {
            var result = await function.Provider.ExecuteAsync("fn.x", "the body"u8.ToArray(), Token);
            Assert.Equal("value of k1", Encoding.UTF8.GetString(result!.Data.Span));
        }

        await using (var function = await WasmFunction.DeployAsync(WasmModules.HostCall("kv", "fail", """{"x-keyvalue-key":"k2"}"""), connection: node.Connection, agentId: node.AgentId))
        {
            var result = await function.Provider.ExecuteAsync("fn.x", ReadOnlyMemory<byte>.Empty, Token);
            Assert.Equal("ERR failed to get value for key (500)", Encoding.UTF8.GetString(result!.Data.Span));
        }

        // Bad input never reaches the node.
        await using (var function = await WasmFunction.DeployAsync(WasmModules.HostCall("kv", "get", "[1]"), connection: node.Connection, agentId: node.AgentId))
        {
            var result = await function.Provider.ExecuteAsync("fn.x", ReadOnlyMemory<byte>.Empty, Token);
            Assert.StartsWith("ERR host_call: headers must be a JSON object", Encoding.UTF8.GetString(result!.Data.Span), StringComparison.Ordinal);
        }

        await sub.UnsubscribeAsync();
        await responder;
        Assert.Equal(
            [
                ($"hostint.{node.AgentId}.rpc.default.fn.kv.set", """x-http-headers={"A":"b"};x-keyvalue-key=k1""", "the body"),
                ($"hostint.{node.AgentId}.rpc.default.fn.kv.fail", "x-keyvalue-key=k2", string.Empty),
            ],
            seen);
    }

    [Fact]
    public async Task HostCall_WithoutResponders_FailsWith500_AndASlowOneIsCutAtTheTimeLimit()
    {
        // Without the artifact service the fake node records only logs and events, so nothing else
        // listens on hostint.<id>.rpc.>.
        await using var node = await FakeNode.StartAsync(Token, serveArtifact: false);
        await using (var function = await WasmFunction.DeployAsync(WasmModules.HostCall("kv", "get", string.Empty), connection: node.Connection, agentId: node.AgentId))
        {
            var result = await function.Provider.ExecuteAsync("fn.x", ReadOnlyMemory<byte>.Empty, Token);
            Assert.Equal("ERR host services are not available (500)", Encoding.UTF8.GetString(result!.Data.Span));
        }

        // A responder that never answers: the function's 300 ms limit ends the wait, not the RPC's 5 s.
        await using var sub = await node.Connection.SubscribeCoreAsync<byte[]>($"hostint.{node.AgentId}.rpc.>", cancellationToken: Token);
        await using (var function = await WasmFunction.DeployAsync(WasmModules.HostCall("kv", "get", string.Empty), timeoutMs: 300, connection: node.Connection, agentId: node.AgentId))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            FunctionFailure.Is(await function.Provider.ExecuteAsync("fn.x", ReadOnlyMemory<byte>.Empty, Token), FunctionErrors.Timeout, "timed out after 300 ms");
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
            Assert.Contains(function.Output.Chunks, c => c.Text.Contains("timed out after 300 ms", StringComparison.Ordinal));
        }
    }
}
