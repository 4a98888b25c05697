using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using NATS.Client.Core;
using Nex.Client;
using Nex.Node.Config;
using Nex.Node.Tests.Functions;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>Metrics as an operator sees them: a real node exporting, scraped over HTTP after real function calls.</summary>
public sealed class MetricsTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static int FreePort() => HostServices.LocalHttpServer.FreePort();

    internal static Task<TestNode> MetricsNodeAsync(string url, Func<NodeConfig, NodeConfig> telemetry) =>
        TestNode.StartAsync(url, c => telemetry(c with { WorkloadTypes = ["native", "v8", "wasm"], MachinePoolSize = 2, FunctionTimeoutMs = 30_000 }));

    internal static byte[] ExampleJs(string name) => File.ReadAllBytes(Path.Combine(Examples.RepositoryRoot, "examples", "js", name));

    private static async Task<NatsMsg<byte[]>> CallAsync(TestNode node, string subject, string payload = "x") =>
        await node.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);

    // The value of the one series whose name and labels match (labels as written by the exporter, in any order).
    internal static double? Sample(string scrape, string name, params string[] labels)
    {
        foreach (var line in scrape.Split('\n'))
        {
            var match = Regex.Match(line, @"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)");
            if (match.Success && match.Groups["name"].Value == name && labels.All(l => match.Groups["labels"].Value.Contains(l, StringComparison.Ordinal))
                && (labels.Length > 0 || !match.Groups["labels"].Success || match.Groups["labels"].Value.Split(',').All(l => l.StartsWith("otel_", StringComparison.Ordinal))))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    [Fact]
    public async Task Prometheus_AfterCalls_ShowsThe02InstrumentsAndTheNewOnes_AndInfoHasTheCallStats()
    {
        var port = FreePort();
        await using var node = await MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = port });
        var echo = FunctionTests.Unique("metrics.echo");
        var thrower = FunctionTests.Unique("metrics.thrower");
        var echoId = await FunctionTests.DeployFunctionAsync(node, "v8", ExampleJs("echo.js"), "echoer", echo);
        var issuer = NexKeys.CreateAccount();
        var location = await Artifacts.UploadAsync(node.Connection, "M" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "thrower", "(subject, payload) => { throw new Error('boom'); }"u8.ToArray());
        var (throwerId, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "thrower", type: "v8", issuer: issuer, location: location, triggers: [thrower]));
        Assert.True(error is null, error);
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains("triggered_on", Encoding.UTF8.GetString((await CallAsync(node, echo)).Data ?? []), StringComparison.Ordinal);
        }

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal("500", (await CallAsync(node, thrower)).Headers![FunctionErrors.CodeHeader].ToString());
        }

        // INFO's calls: per function, null for nothing else here.
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        var echoCalls = Assert.Single(info.Machines, m => m.Id == echoId).Calls!;
        Assert.Equal(5, echoCalls.Total);
        Assert.Equal(0, echoCalls.Errors);
        Assert.True(echoCalls.P50Micros > 0 && echoCalls.P99Micros >= echoCalls.P50Micros, $"p50 {echoCalls.P50Micros} µs, p99 {echoCalls.P99Micros} µs");
        Assert.True(echoCalls.PerSecond > 0);
        var throwerCalls = Assert.Single(info.Machines, m => m.Id == throwerId).Calls!;
        Assert.Null(Assert.Single(info.Machines, m => m.Id == echoId).Resources?.MemoryLimitBytes); // no sandbox here
        Assert.Equal(2, throwerCalls.Total);
        Assert.Equal(2, throwerCalls.Errors);
        TestContext.Current.TestOutputHelper?.WriteLine($"echo p50 {echoCalls.P50Micros} µs, p99 {echoCalls.P99Micros} µs, {echoCalls.PerSecond}/s");

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var scrape = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), Ct);
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join('\n', scrape.Split('\n').Where(l => l.StartsWith("nex_", StringComparison.Ordinal) || l.StartsWith("# TYPE ", StringComparison.Ordinal) || l.StartsWith("target_info", StringComparison.Ordinal))));

        // 0.2's names, with its attribute sets: total, by namespace, by workload name.
        Assert.Equal(5, Sample(scrape, "nex_function_trigger_total", "workload_name=\"echoer\""));
        Assert.Equal(2, Sample(scrape, "nex_function_failed_trigger_total", "workload_name=\"thrower\""));
        Assert.Equal(5, Sample(scrape, "nex_function_trigger_total"));
        Assert.Equal(7, Sample(scrape, "nex_function_trigger_total", "namespace=\"default\"") + Sample(scrape, "nex_function_failed_trigger_total", "namespace=\"default\""));
        Assert.True(Sample(scrape, "nex_function_runtime_nanosec_total", "workload_name=\"echoer\"") > 0);
        Assert.Equal(2, Sample(scrape, "nex_workload_count", "workload_type=\"v8\"", "namespace=\"default\""));
        Assert.Equal(2, Sample(scrape, "nex_vm_count"));
        Assert.True(Sample(scrape, "nex_deployed_bytes_count", "namespace=\"default\"") > 0);

        // The new ones.
        Assert.Equal(5, Sample(scrape, "nex_function_calls_total", "workload_name=\"echoer\""));
        Assert.Equal(2, Sample(scrape, "nex_function_errors_total", "workload_name=\"thrower\""));
        Assert.Equal(5, Sample(scrape, "nex_function_call_duration_seconds_count", "workload_name=\"echoer\""));
        Assert.Equal(5, Sample(scrape, "nex_function_call_duration_seconds_bucket", "workload_name=\"echoer\"", "le=\"+Inf\""));
        Assert.Equal(2, Sample(scrape, "nex_workload_deploys_total", "workload_type=\"v8\""));
        Assert.True(Sample(scrape, "nex_agent_starts_total", "driver=\"none\"") >= 2);
        Assert.True(Sample(scrape, "nex_sandbox_start_duration_seconds_count", "driver=\"none\"") >= 2);
        Assert.NotNull(Sample(scrape, "nex_warm_agents"));
        Assert.True(Sample(scrape, "nex_workload_memory_bytes", "workload_name=\"echoer\"") > 0);
        Assert.NotNull(Sample(scrape, "nex_workload_cpu_time_seconds_total", "workload_name=\"echoer\""));
        Assert.NotNull(Sample(scrape, "nex_internal_nats_reloads_total"));
        Assert.Contains("dotnet_gc_collections_total", scrape, StringComparison.Ordinal); // the runtime's meter
        Assert.Contains("nats_client_sent_bytes_total", scrape, StringComparison.Ordinal); // NATS.Net's
        Assert.Contains("service_name=\"nex-node\"", scrape, StringComparison.Ordinal); // target_info
        Assert.Contains(node.NodeId, scrape, StringComparison.Ordinal); // node_pub_key

        // A refused deploy and a STOP are counted, and the STOP takes the workload out of the gauges.
        var (_, refused) = await Wire.DeployAsync(node.Connection, node.NodeId, "{ not json");
        Assert.NotNull(refused);
        var stop = await new NexClient(node.Connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(15) }).StopAsync(node.NodeId, WorkloadRequestsForTests.Stop(node.NodeId, throwerId!, "thrower", issuer), Ct);
        Assert.True(stop.Stopped);
        scrape = await http.GetStringAsync(new Uri($"http://localhost:{port}/metrics"), Ct); // loopback answers by name too
        Assert.Equal(1, Sample(scrape, "nex_workload_deploy_failures_total", "reason=\"invalid_request\""));
        Assert.Equal(1, Sample(scrape, "nex_workload_stops_total", "reason=\"stopped\""));
        Assert.Equal(1, Sample(scrape, "nex_workload_count", "workload_type=\"v8\"", "namespace=\"default\""));
        Assert.Equal(1, Sample(scrape, "nex_vm_count"));
    }

    [Fact]
    public async Task HostServiceCalls_AreCountedPerService_InTheMetricsAndInInfo()
    {
        var port = FreePort();
        await using var node = await MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = port });
        var subject = FunctionTests.Unique("metrics.kv");
        var id = await FunctionTests.DeployFunctionAsync(node, "v8", ExampleJs("kv.js"), "kvcounter", subject);
        Assert.Contains("hello2", Encoding.UTF8.GetString((await CallAsync(node, subject, "hi")).Data ?? []), StringComparison.Ordinal);

        var calls = Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines, m => m.Id == id).Calls!;
        Assert.True(calls.HostServiceCalls >= 5, $"{calls.HostServiceCalls} host-service calls"); // set, delete, set, keys, get

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var scrape = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), Ct);
        Assert.Equal(calls.HostServiceCalls, Sample(scrape, "nex_host_service_calls_total", "workload_name=\"kvcounter\"", "service=\"kv\""));
    }

    [Fact]
    public async Task OnAllInterfaces_TheEndpointAnswersOnEveryAddressAndName()
    {
        var port = FreePort();
        await using var node = await MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = port, OtelMetricsHost = "0.0.0.0" });
        var addresses = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork)
            .Select(a => a.ToString())
            .Append("localhost")
            .ToList();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var address in addresses)
        {
            Assert.Contains("nex_warm_agents", await http.GetStringAsync(new Uri($"http://{address}:{port}/metrics"), Ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AfterTheNodeStops_ThePortIsFreeForTheNextNode()
    {
        var port = FreePort();
        await (await MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = port })).DisposeAsync();
        await using var again = await MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = port });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Contains(again.NodeId, await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThePrometheusPortInUse_StopsTheStart_WithOneClearLine()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var ex = await Assert.ThrowsAsync<NodeStartException>(() => MetricsNodeAsync(nats.Url, c => c with { OtelMetrics = true, OtelMetricsExporter = "prometheus", OtelMetricsPort = port }));
        Assert.Equal($"cannot serve metrics on 127.0.0.1:{port}: the port is in use (choose another with --metrics_port)", ex.Message);
    }

    [Fact]
    public async Task OtlpToAClosedPort_DoesNotHurtTheNode()
    {
        var closed = FreePort();
        var node = await MetricsNodeAsync(nats.Url, c => c with
        {
            OtelMetrics = true,
            OtelMetricsExporter = "otlp",
            OtelTraces = true,
            OtelTracesExporter = "http",
            OtlpExporterUrl = $"127.0.0.1:{closed}",
        });
        var subject = FunctionTests.Unique("metrics.otlp");
        await FunctionTests.DeployFunctionAsync(node, "v8", ExampleJs("echo.js"), "otlpecho", subject);
        for (var i = 0; i < 3; i++)
        {
            Assert.Contains("triggered_on", Encoding.UTF8.GetString((await CallAsync(node, subject)).Data ?? []), StringComparison.Ordinal);
        }

        // The last export fails at shutdown; it may not hold the node's exit.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await node.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(12), $"the node took {clock.Elapsed} to stop");
    }

    [Fact]
    public async Task OtlpHttp_PushesMetricsAndTraces_ToTheSignalPaths_OfAHostPortUrl()
    {
        await using var collector = Nex.Node.Tests.HostServices.LocalHttpServer.Start();
        var node = await MetricsNodeAsync(nats.Url, c => c with
        {
            OtelMetrics = true,
            OtelMetricsExporter = "otlp",
            OtelTraces = true,
            OtelTracesExporter = "http",
            OtlpExporterUrl = new Uri(collector.BaseUrl).Authority, // 0.2's form: host:port
        });
        var subject = FunctionTests.Unique("metrics.otlphttp");
        await FunctionTests.DeployFunctionAsync(node, "v8", ExampleJs("echo.js"), "otlphttpecho", subject);
        await CallAsync(node, subject);

        // Metrics are pushed every 60 s, and once more at shutdown.
        await node.DisposeAsync();
        var seen = collector.Requests.ToArray();
        var metrics = Assert.Single(seen, r => r.RawUrl == "/v1/metrics");
        Assert.Equal("POST", metrics.Method);
        Assert.Equal("application/x-protobuf", metrics.Headers["Content-Type"]);
        Assert.Contains("nex-function-calls", metrics.Body, StringComparison.Ordinal);
        Assert.Contains("otlphttpecho", metrics.Body, StringComparison.Ordinal);
        Assert.Contains(seen, r => r.RawUrl == "/v1/traces" && r.Body.Length > 0);
    }

    [Fact]
    public async Task FileExporters_AppendJsonLines_To0_2sFiles()
    {
        using var dir = new TempDirectory();
        var metricsFile = dir.File("metrics.log");
        var tracesFile = dir.File("traces.log");
        await using var node = await MetricsNodeAsync(nats.Url, c => c with
        {
            OtelMetrics = true,
            OtelMetricsFile = metricsFile,
            OtelTraces = true,
            OtelTracesFile = tracesFile,
        });
        var subject = FunctionTests.Unique("metrics.file");
        await FunctionTests.DeployFunctionAsync(node, "v8", ExampleJs("echo.js"), "fileecho", subject);
        await CallAsync(node, subject);

        // Written every 3 s, as 0.2 did.
        var line = await WaitForLineAsync(metricsFile, l => l.Contains("\"name\":\"nex-function-trigger\"", StringComparison.Ordinal) && l.Contains("fileecho", StringComparison.Ordinal));
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(1, json.RootElement.GetProperty("value").GetInt64());
        Assert.Equal("fileecho", json.RootElement.GetProperty("attributes").GetProperty("workload_name").GetString());

        // NATS.Net's spans at least (the node's own come from the traces work).
        var span = await WaitForLineAsync(tracesFile, l => l.Contains("\"trace_id\"", StringComparison.Ordinal));
        Assert.Contains("\"span_id\"", span, StringComparison.Ordinal);
    }

    private static async Task<string> WaitForLineAsync(string path, Func<string, bool> wanted)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path) && (await File.ReadAllLinesAsync(path, Ct)).FirstOrDefault(wanted) is { } line)
            {
                return line;
            }

            await Task.Delay(250, Ct); // the exporter writes on its own period: nothing to await
        }

        throw new TimeoutException($"no matching line in {path} after 20 s");
    }
}
