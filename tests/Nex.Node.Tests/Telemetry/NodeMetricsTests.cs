using System.Diagnostics;
using System.Text;
using NATS.Client.Core;
using Nex.Node.Telemetry;
using Nex.Node.Tests.Functions;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>The recording side: free when nobody listens, and each node reports only its own workloads.</summary>
public sealed class NodeMetricsTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Recording_WithoutMetricsExported_AllocatesNothing()
    {
        using var metrics = new NodeMetrics("none");
        var calls = new WorkloadCalls(metrics, TimeProvider.System, "default", "hot");
        void Once()
        {
            var started = calls.Start();
            calls.Succeeded(started, 1000);
            calls.Failed(calls.Start());
            calls.HostServiceCalled("kv", 200);
            calls.HostServiceCalled("kv", 500);
        }

        Once(); // first-call work (JIT, statics) is not the steady state
        const int Rounds = 100_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Rounds; i++)
        {
            Once();
        }

        clock.Stop();
        // Less than a byte a round: nothing per call (the smallest object is 24 bytes); a one-off may remain.
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < Rounds, $"{allocated} bytes allocated in {Rounds} rounds");
        TestContext.Current.TestOutputHelper?.WriteLine($"{clock.Elapsed.TotalNanoseconds / Rounds / 2:0} ns per function call recorded (with its host-service call), nothing exported");
    }

    [Fact]
    public async Task TwoNodesInOneProcess_EachExportsOnlyItsOwnWorkloads()
    {
        var portA = MetricsTests.FreePort();
        var portB = MetricsTests.FreePort();
        await using var a = await MetricsTests.MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = portA });
        await using var b = await MetricsTests.MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = portB });
        var subject = FunctionTests.Unique("metrics.a");
        await FunctionTests.DeployFunctionAsync(a, "v8", MetricsTests.ExampleJs("echo.js"), "onlyona", subject);
        await a.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes("x"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var scrapeA = await http.GetStringAsync(new Uri($"http://127.0.0.1:{portA}/metrics"), Ct);
        var scrapeB = await http.GetStringAsync(new Uri($"http://127.0.0.1:{portB}/metrics"), Ct);
        Assert.Equal(1, MetricsTests.Sample(scrapeA, "nex_function_calls_total", "workload_name=\"onlyona\""));
        Assert.Null(MetricsTests.Sample(scrapeB, "nex_function_calls_total", "workload_name=\"onlyona\""));
        Assert.Null(MetricsTests.Sample(scrapeB, "nex_workload_count", "namespace=\"default\""));
        Assert.Contains(b.NodeId, scrapeB, StringComparison.Ordinal);
        Assert.DoesNotContain(a.NodeId, scrapeB, StringComparison.Ordinal);
    }
}
