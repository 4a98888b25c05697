using Nex.Node.Config;
using Nex.Node.Telemetry;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>The telemetry settings: what the config accepts, and where each signal goes.</summary>
public sealed class TelemetrySettingsTests
{
    [Fact]
    public void TheDefaults_AreValid_And02s()
    {
        var config = NodeConfigLoader.Parse("{}");
        Assert.Empty(TelemetrySettings.Problems(config));
        Assert.False(config.OtelMetrics);
        Assert.Equal("file", config.OtelMetricsExporter);
        Assert.Equal(8085, config.OtelMetricsPort);
        Assert.Equal("127.0.0.1", config.OtelMetricsHost);
        Assert.Equal("metrics.log", config.OtelMetricsFile);
        Assert.Equal("traces.log", config.OtelTracesFile);
    }

    [Theory]
    [InlineData("""{ "otel_metrics_exporter": "statsd" }""", "otel_metrics_exporter must be one of file, prometheus, otlp (got 'statsd')")]
    [InlineData("""{ "otel_traces_exporter": "zipkin" }""", "otel_traces_exporter must be one of file, grpc, http (got 'zipkin')")]
    [InlineData("""{ "otel_metrics_port": 0 }""", "otel_metrics_port must be between 1 and 65535 (got 0)")]
    [InlineData("""{ "otel_metrics_host": "not a host" }""", "otel_metrics_host must be an IP address, a host name, 0.0.0.0 or * (got 'not a host')")]
    [InlineData("""{ "otlp_exporter_url": "" }""", "otlp_exporter_url must be host:port or an http(s) URL (got '')")]
    public void ABadSetting_IsRefusedInOneLine_EvenWithItsSignalOff(string json, string expected)
    {
        var ex = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Parse(json));
        Assert.Equal("invalid configuration: " + expected, ex.Message);
    }

    [Theory]
    [InlineData("127.0.0.1:14532", false, "traces", "http://127.0.0.1:14532/")]
    [InlineData("127.0.0.1:14533", true, "traces", "http://127.0.0.1:14533/v1/traces")]
    [InlineData("http://collector:4318", true, "metrics", "http://collector:4318/v1/metrics")]
    [InlineData("https://otel.example.com/v1/traces", true, "metrics", "https://otel.example.com/v1/metrics")]
    [InlineData("http://gateway/otlp/", true, "traces", "http://gateway/otlp/v1/traces")]
    public void SignalEndpoint_AcceptsHostPortAndUrls_AndAddsTheHttpSignalPath(string setting, bool http, string signal, string expected)
    {
        var collector = TelemetrySettings.OtlpEndpoint(setting);
        Assert.NotNull(collector);
        Assert.Equal(expected, TelemetrySettings.SignalEndpoint(collector, http, signal).ToString());
    }
}
