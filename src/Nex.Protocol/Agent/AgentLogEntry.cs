using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Agent → node log entry on <c>hostint.&lt;id&gt;.logs</c>; every field is omitempty (spec §5.3).</summary>
public sealed record AgentLogEntry
{
    /// <summary>Origin, e.g. <c>nex-agent</c> or the workload name.</summary>
    [JsonPropertyName("source")]
    [OmitEmpty]
    public string? Source { get; init; }

    /// <summary>
    /// Agent level: 0 panic, 1 fatal, 2 error, 3 warn, 4 info, 5 debug, 6 trace (see
    /// <see cref="LogLevels.FromAgentLevel"/>). Go omits 0, so a missing level means 0 (panic).
    /// </summary>
    [JsonPropertyName("level")]
    [OmitEmpty]
    public int? Level { get; init; }

    /// <summary>The raw text (one write; may hold several or partial lines).</summary>
    [JsonPropertyName("text")]
    [OmitEmpty]
    public string? Text { get; init; }
}
