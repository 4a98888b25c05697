using System.Diagnostics;
using Nex.Agent.Providers.V8;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>
/// Measures the per-call cost of the isolation mechanisms (the numbers in <see cref="V8FunctionProvider"/>'s
/// remarks). Runs only with <c>NEX_V8_BENCH=1</c> (it takes several seconds); prints median and p99.
/// </summary>
public sealed class V8IsolationBenchmarkTests
{
    private const string Echo = "(s, p) => ({ triggered_on: s, payload: String.fromCharCode(...p) })";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MeasureIsolationMechanisms()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("NEX_V8_BENCH") == "1", "set NEX_V8_BENCH=1 to measure");
        var cases = new (string Name, V8IsolationMode Mode, TimeSpan Gap)[]
        {
            ("reused context (function_context reuse), back to back", V8IsolationMode.ReusedContext, TimeSpan.Zero),
            ("fresh context per call, back to back", V8IsolationMode.FreshContextPerCall, TimeSpan.Zero),
            ("pooled contexts (2), back to back", V8IsolationMode.PooledContexts, TimeSpan.Zero),
            ("reused context (function_context reuse), 2 ms apart", V8IsolationMode.ReusedContext, TimeSpan.FromMilliseconds(2)),
            ("fresh context per call, 2 ms apart", V8IsolationMode.FreshContextPerCall, TimeSpan.FromMilliseconds(2)),
            ("pooled contexts (2), 2 ms apart", V8IsolationMode.PooledContexts, TimeSpan.FromMilliseconds(2)),
        };
        foreach (var (name, mode, gap) in cases)
        {
            await using var fn = await V8Harness.StartAsync(Echo, Token, new V8Options { Mode = mode });
            var payload = "hello world"u8.ToArray();
            for (var i = 0; i < 200; i++)
            {
                await fn.Provider.ExecuteAsync("warm", payload, Token);
            }

            var samples = new double[2000];
            for (var i = 0; i < samples.Length; i++)
            {
                if (gap > TimeSpan.Zero)
                {
                    var until = Stopwatch.GetTimestamp() + (long)(gap.TotalSeconds * Stopwatch.Frequency);
                    await Task.Delay(1, Token);
                    while (Stopwatch.GetTimestamp() < until)
                    {
                        Thread.SpinWait(50);
                    }
                }

                var start = Stopwatch.GetTimestamp();
                var result = await fn.Provider.ExecuteAsync("hello", payload, Token);
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                Assert.NotNull(result);
            }

            Array.Sort(samples);
            var line = $"V8BENCH {name}: median {samples[samples.Length / 2]:0.0} µs, p99 {samples[(int)(samples.Length * 0.99)]:0.0} µs";
            TestContext.Current.SendDiagnosticMessage(line);
            await File.AppendAllTextAsync(Path.Combine(Path.GetTempPath(), "nex-v8-bench.txt"), line + Environment.NewLine, Token);
        }
    }
}
