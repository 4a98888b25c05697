using System.Globalization;
using System.Net;
using Nex.Node.Config;

namespace Nex.Node.Telemetry;

/// <summary>The telemetry settings of <see cref="NodeConfig"/>: what is valid, and what they mean for the exporters.</summary>
internal static class TelemetrySettings
{
    /// <summary><c>otel_metrics_exporter</c> values.</summary>
    public static IReadOnlyList<string> MetricsExporters { get; } = ["file", "prometheus", "otlp"];

    /// <summary><c>otel_traces_exporter</c> values.</summary>
    public static IReadOnlyList<string> TracesExporters { get; } = ["file", "grpc", "http"];

    /// <summary>Every problem of the telemetry settings, one phrase each. Checked whether or not the signal is on, so
    /// that a typo in config.json is found before someone turns it on.</summary>
    public static IEnumerable<string> Problems(NodeConfig config)
    {
        if (!MetricsExporters.Contains(config.OtelMetricsExporter, StringComparer.Ordinal))
        {
            yield return $"otel_metrics_exporter must be one of {string.Join(", ", MetricsExporters)} (got '{config.OtelMetricsExporter}')";
        }

        if (!TracesExporters.Contains(config.OtelTracesExporter, StringComparer.Ordinal))
        {
            yield return $"otel_traces_exporter must be one of {string.Join(", ", TracesExporters)} (got '{config.OtelTracesExporter}')";
        }

        if (config.OtelMetricsPort is < 1 or > 65535)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"otel_metrics_port must be between 1 and 65535 (got {config.OtelMetricsPort})");
        }

        if (!IsValidHost(config.OtelMetricsHost))
        {
            yield return $"otel_metrics_host must be an IP address, a host name, 0.0.0.0 or * (got '{config.OtelMetricsHost}')";
        }

        if (OtlpEndpoint(config.OtlpExporterUrl) is null)
        {
            yield return $"otlp_exporter_url must be host:port or an http(s) URL (got '{config.OtlpExporterUrl}')";
        }

        if (string.IsNullOrWhiteSpace(config.OtelMetricsFile) || string.IsNullOrWhiteSpace(config.OtelTracesFile))
        {
            yield return "otel_metrics_file and otel_traces_file must not be empty";
        }
    }

    /// <summary>The OTLP collector's base URL: <c>host:port</c> (0.2's form, no scheme) means plain <c>http://host:port</c>.</summary>
    public static Uri? OtlpEndpoint(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var text = value.Contains("://", StringComparison.Ordinal) ? value : "http://" + value;
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0 ? uri : null;
    }

    /// <summary>
    /// Where one signal goes. gRPC takes the collector's address as is; OTLP/HTTP needs the signal's path
    /// (<c>/v1/traces</c>, <c>/v1/metrics</c>) once an endpoint is set. A URL that already ends in a signal's path
    /// (one copied from a collector's docs) is taken up to it, so both signals can share it.
    /// </summary>
    public static Uri SignalEndpoint(Uri collector, bool http, string signal)
    {
        if (!http)
        {
            return collector;
        }

        var path = collector.AbsolutePath.TrimEnd('/');
        foreach (var known in new[] { "/v1/traces", "/v1/metrics", "/v1/logs" })
        {
            if (path.EndsWith(known, StringComparison.Ordinal))
            {
                path = path[..^known.Length];
                break;
            }
        }

        return new UriBuilder(collector) { Path = $"{path}/v1/{signal}" }.Uri;
    }

    /// <summary>Whether the address means every interface.</summary>
    public static bool IsAnyHost(string host) => host is "*" or "+" or "0.0.0.0" or "::" or "[::]";

    private static bool IsValidHost(string? host) =>
        !string.IsNullOrWhiteSpace(host)
        && (IsAnyHost(host) || IPAddress.TryParse(host, out _) || Uri.CheckHostName(host) == UriHostNameType.Dns);
}
