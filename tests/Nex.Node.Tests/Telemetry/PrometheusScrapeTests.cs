using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Node.Tests.Functions;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>A real Prometheus (Debian's <c>prometheus</c> package) scrapes a real node, with the README's scrape config.</summary>
public sealed class PrometheusScrapeTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    [Fact]
    public async Task ARealPrometheus_ScrapesTheNode_AndQueriesThe02Names()
    {
        if (FindOnPath("prometheus") is not { } prometheus)
        {
            Assert.Skip("prometheus is not on PATH (Debian package 'prometheus'): the end-to-end scrape by a real Prometheus is not run");
            return;
        }

        var metricsPort = MetricsTests.FreePort();
        await using var node = await MetricsTests.MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = metricsPort });
        var subject = FunctionTests.Unique("prom.echo");
        await FunctionTests.DeployFunctionAsync(node, "v8", MetricsTests.ExampleJs("echo.js"), "promecho", subject);
        for (var i = 0; i < 3; i++)
        {
            await node.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes("x"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);
        }

        using var dir = new TempDirectory();
        var webPort = MetricsTests.FreePort();
        await File.WriteAllTextAsync(dir.File("prometheus.yml"), $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: nex
                static_configs:
                  - targets: ['127.0.0.1:{metricsPort}']
            """, Ct);
        var start = new ProcessStartInfo(prometheus)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { $"--config.file={dir.File("prometheus.yml")}", $"--storage.tsdb.path={dir.File("data")}", $"--web.listen-address=127.0.0.1:{webPort}" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var log = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var query = Uri.EscapeDataString("nex_function_trigger_total{workload_name=\"promecho\"}");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
            string? value = null;
            while (value is null && DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    using var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{webPort}/api/v1/query?query={query}"), Ct));
                    var result = answer.RootElement.GetProperty("data").GetProperty("result");
                    value = result.GetArrayLength() > 0 ? result[0].GetProperty("value")[1].GetString() : null;
                }
                catch (HttpRequestException)
                {
                    // Prometheus is still starting.
                }

                if (value is null)
                {
                    await Task.Delay(500, Ct); // Prometheus scrapes on its own schedule: nothing to await
                }
            }

            string output;
            lock (log)
            {
                output = log.ToString();
            }

            Assert.True(value is not null, $"Prometheus never had the node's series; its log:\n{output}");
            Assert.Equal(3, double.Parse(value, CultureInfo.InvariantCulture));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(Ct);
        }
    }
}
