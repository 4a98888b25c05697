using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using Nex.Agent.Tests.Wasm;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>
/// Per-call latency of a V8 and a WASM echo function through the real agent process (the node's hop left
/// out), to compare agent builds: run with <c>NEX_AGENT_BENCH=1</c>, once as is (<c>dotnet nex-agent.dll</c>)
/// and once with <c>NEX_AGENT_UNDER_TEST=.build/agent/nex-agent</c> (NativeAOT). Prints median, p90 and p99
/// of the trigger round trip and, for V8, of the agent's own <c>x-nex-runtime-ns</c>; appends them to
/// <c>$TMPDIR/nex-agent-bench.txt</c>. <c>NEX_AGENT_BENCH_GAP_MS</c> spaces the calls (default: back to back).
/// </summary>
public sealed class AgentLatencyBenchmarkTests
{
    private const int Warmup = 300;
    private const int Calls = 3000;
    private const string EchoJs = "(s, p) => ({ triggered_on: s, payload: String.fromCharCode(...p) })";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public Task V8Echo() => MeasureAsync("v8", WorkloadTypes.V8, EchoJs);

    [Fact]
    public Task WasmEcho() => MeasureAsync("wasm", WorkloadTypes.Wasm, WasmModules.Echo);

    private static async Task MeasureAsync(string name, string type, string artifact)
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("NEX_AGENT_BENCH") == "1", "set NEX_AGENT_BENCH=1 to measure");
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact(artifact);
        await node.AnswerHandshakesAsync(Token);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());
        await node.Handshakes.WaitForAsync(_ => true, AgentContractTests.Wait, "handshake");
        var deployed = await node.DeployAsync(FakeNode.NativeRequest("bench") with { WorkloadType = type, TriggerSubjects = ["fn.>"] }, Token);
        Assert.True(deployed.Accepted, deployed.Message);

        var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "fn.hello" };
        var payload = "hello world"u8.ToArray();
        var roundTrips = new List<double>(Calls);
        var runtimes = new List<double>(Calls);
        var gap = int.TryParse(Environment.GetEnvironmentVariable("NEX_AGENT_BENCH_GAP_MS"), CultureInfo.InvariantCulture, out var ms) ? ms : 0;
        for (var i = 0; i < Warmup + Calls; i++)
        {
            if (gap > 0)
            {
                await Task.Delay(gap, Token);
            }

            var start = Stopwatch.GetTimestamp();
            var reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), payload, headers, replyOpts: new NatsSubOpts { Timeout = AgentContractTests.Wait }, cancellationToken: Token);
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            Assert.NotEmpty(reply.Data ?? []);
            if (i < Warmup)
            {
                continue;
            }

            roundTrips.Add(elapsed);
            if (reply.Headers is { } h && h.TryGetValue(AgentSubjects.RuntimeNsHeader, out var ns))
            {
                runtimes.Add(long.Parse(ns.ToString(), CultureInfo.InvariantCulture) / 1000.0);
            }
        }

        var rss = File.ReadLines($"/proc/{agent.Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))[6..].Trim();
        var line = $"AGENTBENCH {AgentProcess.AgentUnderTest ?? "dotnet nex-agent.dll"} {name}{(gap > 0 ? $" {gap} ms apart" : " back to back")}: round trip {Quantiles(roundTrips)}"
            + (runtimes.Count > 0 ? $"; agent runtime {Quantiles(runtimes)}" : string.Empty) + $"; VmRSS after {rss}";
        TestContext.Current.SendDiagnosticMessage(line);
        await File.AppendAllTextAsync(Path.Combine(Path.GetTempPath(), "nex-agent-bench.txt"), line + Environment.NewLine, Token);
        Assert.Empty(await node.UndeployAsync(Token));
    }

    private static string Quantiles(List<double> samples)
    {
        samples.Sort();
        return string.Create(CultureInfo.InvariantCulture, $"median {samples[samples.Count / 2]:0} µs, p90 {samples[(int)(samples.Count * 0.9)]:0} µs, p99 {samples[(int)(samples.Count * 0.99)]:0} µs");
    }
}
