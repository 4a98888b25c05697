using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>A log line on <c>$NEX.logs.&lt;ns&gt;.&lt;node&gt;.…</c> (spec §7.4).</summary>
public sealed record RawLog
{
    /// <summary>The text (one write; may hold several or partial lines).</summary>
    [JsonPropertyName("text")]
    public string Text { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>A Go slog level string: <c>DEBUG</c>, <c>INFO</c>, <c>WARN</c>, <c>ERROR</c>, or with an offset such as <c>INFO+2</c>.</summary>
    [JsonPropertyName("level")]
    public string Level { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;
}
