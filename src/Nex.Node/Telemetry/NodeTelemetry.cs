using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NATS.Client.OpenTelemetry;
using Nex.Node.Config;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Nex.Node.Telemetry;

/// <summary>
/// The node's exporters, made from its configuration at start and shut down at stop: a meter provider when metrics
/// are on (the node's meter, NATS.Net's and the .NET runtime's), a tracer provider when traces are on (the node's
/// activity source and NATS.Net's). Without either, nothing listens and nothing is exported.
/// </summary>
internal sealed partial class NodeTelemetry : IDisposable
{
    /// <summary>How often the <c>file</c> metrics exporter writes (0.2: every 3 s).</summary>
    internal const int FileExportIntervalMs = 3000;

    // Exports in flight at shutdown get this long: an unreachable collector must not hold the node's exit.
    private const int ShutdownTimeoutMs = 2000;

    // The .NET runtime's own meter (GC, thread pool, exceptions): built into .NET 9+, no package needed.
    private const string RuntimeMeter = "System.Runtime";

    private readonly MeterProvider? _meters;
    private readonly TracerProvider? _tracers;

    private NodeTelemetry(MeterProvider? meters, TracerProvider? tracers, string? metricsAt, string? tracesAt)
    {
        _meters = meters;
        _tracers = tracers;
        MetricsEndpoint = metricsAt;
        TracesEndpoint = tracesAt;
    }

    /// <summary>Where metrics go (a URL or a file), or null when they are off.</summary>
    public string? MetricsEndpoint { get; }

    /// <summary>Where traces go (a URL or a file), or null when they are off.</summary>
    public string? TracesEndpoint { get; }

    /// <summary>Starts the exporters the configuration asks for.</summary>
    /// <exception cref="NodeStartException">A setting is invalid, the Prometheus port is taken, or a file cannot be written.</exception>
    public static NodeTelemetry Start(NodeConfig config, NodeMetrics metrics, string nodeId, string version, ILogger logger)
    {
        if (!config.OtelMetrics && !config.OtelTraces)
        {
            return new NodeTelemetry(null, null, null, null);
        }

        if (TelemetrySettings.Problems(config).FirstOrDefault() is { } problem)
        {
            throw new NodeStartException("invalid configuration: " + problem);
        }

        var resource = ResourceBuilder.CreateEmpty()
            .AddService(TelemetryNames.ServiceName, serviceVersion: version, autoGenerateServiceInstanceId: false, serviceInstanceId: nodeId)
            .AddAttributes([new("node_pub_key", nodeId)]);
        var collector = TelemetrySettings.OtlpEndpoint(config.OtlpExporterUrl)!;

        // One collector URL serves both signals, so OTLP metrics speak the traces exporter's protocol when that is
        // OTLP/HTTP, and gRPC otherwise (0.2's default URL, 127.0.0.1:14532, is its collector's gRPC port).
        var http = config.OtelTracesExporter == "http";
        string? metricsAt = null;
        MeterProvider? meters = null;
        if (config.OtelMetrics)
        {
            (meters, metricsAt) = StartMetrics(config, metrics, resource, collector, http);
        }

        string? tracesAt = null;
        TracerProvider? tracers = null;
        try
        {
            if (config.OtelTraces)
            {
                (tracers, tracesAt) = StartTraces(config, resource, collector);
            }
        }
        catch
        {
            meters?.Dispose();
            throw;
        }

        if (metricsAt is not null)
        {
            LogMetrics(logger, config.OtelMetricsExporter, metricsAt);
        }

        if (tracesAt is not null)
        {
            LogTraces(logger, config.OtelTracesExporter, tracesAt);
        }

        return new NodeTelemetry(meters, tracers, metricsAt, tracesAt);
    }

    /// <summary>Flushes what can be flushed quickly and stops exporting.</summary>
    public void Dispose()
    {
        _tracers?.Shutdown(ShutdownTimeoutMs);
        _tracers?.Dispose();
        _meters?.Shutdown(ShutdownTimeoutMs);
        _meters?.Dispose();
    }

    private static (MeterProvider, string) StartMetrics(NodeConfig config, NodeMetrics metrics, ResourceBuilder resource, Uri collector, bool http)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(TelemetryNames.Meter, RuntimeMeter)
            .AddNatsClientInstrumentation()

            // Only this node's meter: another node in the same process (tests, embedding) has its own.
            .AddView(instrument => instrument.Meter.Name == TelemetryNames.Meter && !ReferenceEquals(instrument.Meter, metrics.Meter)
                ? MetricStreamConfiguration.Drop
                : null);
        string at;
        switch (config.OtelMetricsExporter)
        {
            case "prometheus":
                var host = config.OtelMetricsHost;
                CheckPortFree(host, config.OtelMetricsPort);
                builder.AddPrometheusHttpListener(o =>
                {
                    // HttpListener answers a request only when its Host header matches a prefix: every interface needs
                    // the "*" prefix (which the exporter cannot take as its Host), and loopback also answers
                    // "localhost", the name scrapers on the same host use.
                    var any = TelemetrySettings.IsAnyHost(host);
                    o.Host = any ? "localhost" : UrlHost(host);
                    o.Port = config.OtelMetricsPort;
                    o.ScrapeResponseCacheDurationMilliseconds = 0; // a scrape sees what happened just before it
                    o.ConfigureHttpListener = (_, listener) =>
                    {
                        if (any)
                        {
                            listener.Prefixes.Clear();
                            listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://*:{config.OtelMetricsPort}/"));
                        }
                        else if (host is "127.0.0.1")
                        {
                            listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://localhost:{config.OtelMetricsPort}/"));
                        }
                    };
                });
                at = string.Create(CultureInfo.InvariantCulture, $"http://{(TelemetrySettings.IsAnyHost(host) ? "0.0.0.0" : UrlHost(host))}:{config.OtelMetricsPort}/metrics");
                break;
            case "otlp":
                var endpoint = TelemetrySettings.SignalEndpoint(collector, http, "metrics");
                builder.AddOtlpExporter(o =>
                {
                    o.Endpoint = endpoint;
                    o.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                });
                at = endpoint.ToString();
                break;
            default:
                JsonLinesFile.CheckWritable(config.OtelMetricsFile, "metrics");
                builder.AddReader(new PeriodicExportingMetricReader(new JsonLinesMetricExporter(config.OtelMetricsFile), FileExportIntervalMs));
                at = Path.GetFullPath(config.OtelMetricsFile);
                break;
        }

        try
        {
            return (builder.Build(), at);
        }
        catch (InvalidOperationException ex)
        {
            // The port was taken between the check and the listener's start (or the listener refused the address).
            throw new NodeStartException($"cannot serve metrics on {at}: {(ex.InnerException ?? ex).Message}", ex);
        }
    }

    private static (TracerProvider, string) StartTraces(NodeConfig config, ResourceBuilder resource, Uri collector)
    {
        // W3C trace context and baggage, as 0.2 propagated them (spec §10.2).
        Sdk.SetDefaultTextMapPropagator(new CompositeTextMapPropagator([new TraceContextPropagator(), new BaggagePropagator()]));
        var builder = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .SetSampler(new AlwaysOnSampler())
            .AddSource(TelemetryNames.ActivitySource)
            .AddNatsClientInstrumentation();
        string at;
        if (config.OtelTracesExporter is "grpc" or "http")
        {
            var http = config.OtelTracesExporter == "http";
            var endpoint = TelemetrySettings.SignalEndpoint(collector, http, "traces");
            builder.AddOtlpExporter(o =>
            {
                o.Endpoint = endpoint;
                o.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
            });
            at = endpoint.ToString();
        }
        else
        {
            JsonLinesFile.CheckWritable(config.OtelTracesFile, "traces");
            builder.AddProcessor(new BatchActivityExportProcessor(new JsonLinesTraceExporter(config.OtelTracesFile)));
            at = Path.GetFullPath(config.OtelTracesFile);
        }

        return (builder.Build(), at);
    }

    // An IPv6 address goes in brackets in a URL.
    private static string UrlHost(string host) =>
        IPAddress.TryParse(host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : host;

    // HttpListener's own failure on a taken port comes late and worded for developers; this says it plainly.
    private static void CheckPortFree(string host, int port)
    {
        var address = TelemetrySettings.IsAnyHost(host) ? IPAddress.Any
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : IPAddress.Loopback;
        try
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException ex)
        {
            var where = string.Create(CultureInfo.InvariantCulture, $"{host}:{port}");
            throw new NodeStartException(ex.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? $"cannot serve metrics on {where}: the port is in use (choose another with --metrics_port)"
                : $"cannot serve metrics on {where}: {ex.Message}", ex);
        }
    }

    [LoggerMessage(EventId = 1900, Level = LogLevel.Information, Message = "Exporting metrics ({Exporter}) to {Endpoint}")]
    private static partial void LogMetrics(ILogger logger, string exporter, string endpoint);

    [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "Exporting traces ({Exporter}) to {Endpoint}")]
    private static partial void LogTraces(ILogger logger, string exporter, string endpoint);
}
