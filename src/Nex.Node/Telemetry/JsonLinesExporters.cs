using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Nex.Node.Telemetry;

/// <summary>
/// The <c>file</c> exporters (0.2's <c>./metrics.log</c> and <c>./traces.log</c>): one JSON object per line, appended.
/// The file is opened for each export, so a rotation (logrotate, even with <c>copytruncate</c>) is picked up.
/// </summary>
internal static class JsonLinesFile
{
    /// <summary>Checks at start that <paramref name="path"/> can be appended to.</summary>
    /// <exception cref="NodeStartException">It cannot.</exception>
    public static void CheckWritable(string path, string what)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new NodeStartException($"cannot write the {what} file {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Appends the lines; false when the file cannot be written now.</summary>
    public static bool Append(string path, ReadOnlySpan<byte> lines)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            stream.Write(lines);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>Writes every metric point as a JSON line (exported every 3 s, as 0.2 did).</summary>
/// <param name="path">The file.</param>
internal sealed class JsonLinesMetricExporter(string path) : BaseExporter<Metric>
{
    /// <inheritdoc/>
    public override ExportResult Export(in Batch<Metric> batch)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            foreach (var metric in batch)
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    json.WriteStartObject();
                    json.WriteString("time", point.EndTime);
                    json.WriteString("name", metric.Name);
                    json.WriteString("unit", metric.Unit);
                    json.WriteString("type", metric.MetricType.ToString());
                    json.WriteStartObject("attributes");
                    foreach (var tag in point.Tags)
                    {
                        json.WriteString(tag.Key, Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture));
                    }

                    json.WriteEndObject();
                    WriteValue(json, metric.MetricType, point);
                    json.WriteEndObject();
                    json.Flush();
                    json.Reset(); // the next object is a new line, not a second root value of this one
                    buffer.Write("\n"u8);
                }
            }
        }

        return JsonLinesFile.Append(path, buffer.WrittenSpan) ? ExportResult.Success : ExportResult.Failure;
    }

    private static void WriteValue(Utf8JsonWriter json, MetricType type, in MetricPoint point)
    {
        switch (type)
        {
            case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                json.WriteNumber("value", point.GetSumLong());
                break;
            case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                json.WriteNumber("value", point.GetSumDouble());
                break;
            case MetricType.LongGauge:
                json.WriteNumber("value", point.GetGaugeLastValueLong());
                break;
            case MetricType.DoubleGauge:
                json.WriteNumber("value", point.GetGaugeLastValueDouble());
                break;
            case MetricType.Histogram:
                json.WriteNumber("count", point.GetHistogramCount());
                json.WriteNumber("sum", point.GetHistogramSum());
                json.WriteStartArray("buckets");
                foreach (var bucket in point.GetHistogramBuckets())
                {
                    json.WriteStartObject();
                    if (double.IsPositiveInfinity(bucket.ExplicitBound))
                    {
                        json.WriteString("le", "+Inf");
                    }
                    else
                    {
                        json.WriteNumber("le", bucket.ExplicitBound);
                    }

                    json.WriteNumber("count", bucket.BucketCount);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                break;
            case MetricType.ExponentialHistogram:
                json.WriteNumber("count", point.GetHistogramCount());
                json.WriteNumber("sum", point.GetHistogramSum());
                break;
        }
    }
}

/// <summary>Writes every finished span as a JSON line.</summary>
/// <param name="path">The file.</param>
internal sealed class JsonLinesTraceExporter(string path) : BaseExporter<Activity>
{
    /// <inheritdoc/>
    public override ExportResult Export(in Batch<Activity> batch)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            foreach (var span in batch)
            {
                json.WriteStartObject();
                json.WriteString("trace_id", span.TraceId.ToHexString());
                json.WriteString("span_id", span.SpanId.ToHexString());
                if (span.ParentSpanId != default)
                {
                    json.WriteString("parent_span_id", span.ParentSpanId.ToHexString());
                }

                json.WriteString("name", span.DisplayName);
                json.WriteString("source", span.Source.Name);
                json.WriteString("kind", span.Kind.ToString());
                json.WriteString("start", span.StartTimeUtc);
                json.WriteNumber("duration_ms", span.Duration.TotalMilliseconds);
                json.WriteString("status", span.Status.ToString());
                if (span.StatusDescription is { } description)
                {
                    json.WriteString("status_description", description);
                }

                json.WriteStartObject("attributes");
                foreach (var tag in span.TagObjects)
                {
                    json.WriteString(tag.Key, Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture));
                }

                json.WriteEndObject();
                json.WriteStartArray("events");
                foreach (var ev in span.Events)
                {
                    json.WriteStartObject();
                    json.WriteString("name", ev.Name);
                    json.WriteString("time", ev.Timestamp);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
                json.Flush();
                json.Reset(); // the next object is a new line, not a second root value of this one
                buffer.Write("\n"u8);
            }
        }

        return JsonLinesFile.Append(path, buffer.WrittenSpan) ? ExportResult.Success : ExportResult.Failure;
    }
}
