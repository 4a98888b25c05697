using System.Globalization;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex node up</c>'s telemetry flags: they work, or they are refused with one line.</summary>
public sealed class TelemetryFlagsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task<CliProcess> UpAsync(TempDirectory dir, string config, params string[] flags)
    {
        await File.WriteAllTextAsync(dir.File("c.json"), config, Ct);
        return await CliProcess.RunAsync(["node", "up", "--config", dir.File("c.json"), "-s", "nats://127.0.0.1:1", .. flags]);
    }

    private static void AssertOneLine(CliProcess cli, string expected)
    {
        Assert.NotEqual(0, cli.ExitCode);
        var line = Assert.Single(cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetricsPort_WithoutMetrics_IsRefused()
    {
        using var dir = new TempDirectory();
        AssertOneLine(await UpAsync(dir, "{}", "--metrics_port", "9999"), "nex: --metrics_port needs --metrics (or otel_metrics in the config)");
    }

    [Fact]
    public async Task MetricsPort_WithTheFileExporter_IsRefused()
    {
        using var dir = new TempDirectory();
        AssertOneLine(await UpAsync(dir, "{}", "--metrics", "--metrics_port", "9999"), "nex: --metrics_port is the Prometheus endpoint's port: it needs --otel_metrics_exporter prometheus (metrics go to file)");
    }

    [Fact]
    public async Task TracesExporter_WithoutTraces_IsRefused()
    {
        using var dir = new TempDirectory();
        AssertOneLine(await UpAsync(dir, "{}", "--otel_traces_exporter", "http"), "nex: --otel_traces_exporter needs --traces (or otel_traces in the config)");
    }

    [Fact]
    public async Task AnUnknownExporterFlag_IsRefused()
    {
        using var dir = new TempDirectory();
        var cli = await UpAsync(dir, "{}", "--metrics", "--otel_metrics_exporter", "statsd");
        Assert.NotEqual(0, cli.ExitCode);
        Assert.Contains("statsd", cli.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownExporterInTheConfig_IsRefused()
    {
        using var dir = new TempDirectory();
        AssertOneLine(await UpAsync(dir, """{ "otel_metrics_exporter": "statsd" }"""), "nex: invalid configuration: otel_metrics_exporter must be one of file, prometheus, otlp (got 'statsd')");
    }

    [Fact]
    public async Task APortOutOfRange_IsRefused()
    {
        using var dir = new TempDirectory();
        AssertOneLine(await UpAsync(dir, "{}", "--metrics", "--otel_metrics_exporter", "prometheus", "--metrics_port", "70000"), "nex: invalid configuration: otel_metrics_port must be between 1 and 65535 (got 70000)");
    }

    [Fact]
    public async Task ABadOtlpUrl_IsRefused()
    {
        using var dir = new TempDirectory();
        AssertOneLine(await UpAsync(dir, """{ "otlp_exporter_url": "ftp://collector:21" }""", "--traces", "--otel_traces_exporter", "grpc"), "otlp_exporter_url must be host:port or an http(s) URL (got 'ftp://collector:21')");
    }

    // The issue's own command line: the port opens and serves the node's metrics; a second node on it is refused.
    [Fact]
    public async Task NodeUp_WithPrometheusFlags_ServesMetrics_AndABusyPortStopsAnotherNodeWithOneLine()
    {
        using var home = new TempDirectory();
        var env = new Dictionary<string, string?> { ["NEX_HOME"] = home.Path, ["HOME"] = home.Path };
        var natsPort = CliTestSupport.FreePort();
        var metricsPort = CliTestSupport.FreePort();
        await File.WriteAllTextAsync(home.File("config.json"), $$"""{ "pid_filepath": "{{home.File("nex.pid")}}" }""", Ct);
        await using var node = CliProcess.Start(
            ["node", "up", "--config", home.File("config.json"), "--embedded-port", Port(natsPort), "--metrics", "--otel_metrics_exporter", "prometheus", "--metrics_port", Port(metricsPort), "--traces", "--otel_traces_exporter", "http"],
            env);
        await node.WaitForOutputAsync(" is up on ", TimeSpan.FromSeconds(60));
        Assert.Contains($"Exporting metrics (prometheus) to http://127.0.0.1:{metricsPort}/metrics", node.StdOut + node.StdErr, StringComparison.Ordinal);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var scrape = await http.GetStringAsync(new Uri($"http://127.0.0.1:{Port(metricsPort)}/metrics"), Ct);
        Assert.Contains("nex_warm_agents", scrape, StringComparison.Ordinal);
        Assert.Contains("nex_internal_nats_reloads_total", scrape, StringComparison.Ordinal);

        // Another node (its own home, same NATS) asking for the same port.
        using var other = new TempDirectory();
        await File.WriteAllTextAsync(other.File("config.json"), $$"""{ "pid_filepath": "{{other.File("nex.pid")}}" }""", Ct);
        var second = await CliProcess.RunAsync(
            ["node", "up", "--config", other.File("config.json"), "-s", $"nats://127.0.0.1:{Port(natsPort)}", "--metrics", "--otel_metrics_exporter", "prometheus", "--metrics_port", Port(metricsPort)],
            new Dictionary<string, string?> { ["NEX_HOME"] = other.Path, ["HOME"] = other.Path });
        Assert.NotEqual(0, second.ExitCode);
        var last = second.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Equal($"nex: cannot serve metrics on 127.0.0.1:{metricsPort}: the port is in use (choose another with --metrics_port)", last);
        Assert.DoesNotContain("   at ", second.StdErr + second.StdOut, StringComparison.Ordinal);
    }
}
