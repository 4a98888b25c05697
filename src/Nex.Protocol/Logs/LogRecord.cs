using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// One log line as <c>nex logs --json</c> prints it: a line of JSON with everything a log shipper needs (where
/// 0.2's <see cref="RawLog"/> had only text, level and id).
/// </summary>
public sealed record LogRecord
{
    /// <summary>When the node published the line (when it was received, from nodes that do not say).</summary>
    [JsonPropertyName("time")]
    public DateTimeOffset Time { get; init; }

    /// <summary>Node id.</summary>
    [JsonPropertyName("node")]
    public string Node { get; init; } = string.Empty;

    /// <summary>The node's name, when the node sent it.</summary>
    [JsonPropertyName("node_name")]
    [OmitEmpty]
    public string? NodeName { get; init; }

    /// <summary>Namespace.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init; } = string.Empty;

    /// <summary>Workload name.</summary>
    [JsonPropertyName("workload_name")]
    public string WorkloadName { get; init; } = string.Empty;

    /// <summary>Workload id.</summary>
    [JsonPropertyName("workload_id")]
    public string WorkloadId { get; init; } = string.Empty;

    /// <summary>Level as sent (<c>INFO</c>, <c>ERROR</c>, <c>INFO+2</c>).</summary>
    [JsonPropertyName("level")]
    public string Level { get; init; } = string.Empty;

    /// <summary>The text, without its trailing newline.</summary>
    [JsonPropertyName("text")]
    public string Text { get; init; } = string.Empty;
}
