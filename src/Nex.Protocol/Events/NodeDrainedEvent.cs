using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Data of <c>node_drained</c> (a Nex for .NET addition): a lame-duck node finished its drain and exits.</summary>
public sealed record NodeDrainedEvent
{
    /// <summary>The node that drained.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workloads that another node took over (their local copies ended as moved).</summary>
    [JsonPropertyName("moved")]
    public int Moved { get; init; }

    /// <summary>Workloads stopped here without a taker: no record (no JetStream, autostart), or none taken by the deadline.</summary>
    [JsonPropertyName("stopped")]
    public int Stopped { get; init; }

    /// <summary>True when the deadline (<c>fleet.drain_timeout_ms</c>) came before every recorded workload was taken.</summary>
    [JsonPropertyName("timed_out")]
    public bool TimedOut { get; init; }
}
