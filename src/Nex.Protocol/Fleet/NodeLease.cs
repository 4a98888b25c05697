using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// A node's lease in the <see cref="Bucket"/> JetStream KV bucket (a Nex for .NET addition): key = the node
/// id, renewed every <c>fleet.heartbeat_ms</c>. Other nodes judge the node alive while they keep receiving updates of
/// it (by their own clocks, never by <see cref="HeartbeatAt"/>), and pick candidates for rescheduling from the leases.
/// </summary>
public sealed record NodeLease
{
    /// <summary>The JetStream KV bucket of node leases on the nodes' main NATS system.</summary>
    public const string Bucket = "NEX_NODES";

    /// <summary>The node id (public server nkey).</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's name (its <c>node_name</c> tag), possibly empty.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's nexus.</summary>
    [JsonPropertyName("nexus")]
    public string Nexus { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's public xkey (environments sealed to it open there).</summary>
    [JsonPropertyName("xkey")]
    public string Xkey { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>True once the node is in lame duck mode: it takes no workloads.</summary>
    [JsonPropertyName("lame_duck")]
    public bool LameDuck { get; init; }

    /// <summary>False when the node never takes over other nodes' workloads (<c>fleet.reschedule</c>): never picked.</summary>
    [JsonPropertyName("reschedules")]
    public bool Reschedules { get; init; } = true;

    /// <summary>When the node started.</summary>
    [JsonPropertyName("started_at")]
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>When the node wrote this lease (informational: liveness is judged by the reader's clock).</summary>
    [JsonPropertyName("heartbeat_at")]
    public DateTimeOffset HeartbeatAt { get; init; }
}

/// <summary>Data of <c>workload_rescheduled</c> (a Nex for .NET addition): a workload of a dead or draining node runs on another.</summary>
public sealed record WorkloadRescheduledEvent
{
    /// <summary>The desired-state key.</summary>
    [JsonPropertyName("key")]
    public string Key { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The workload's name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node the record named before (dead, or draining).</summary>
    [JsonPropertyName("from_node")]
    public string FromNode { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node that runs it now.</summary>
    [JsonPropertyName("to_node")]
    public string ToNode { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Its new workload id.</summary>
    [JsonPropertyName("workload_id")]
    public string WorkloadId { get; init => field = value ?? string.Empty; } = string.Empty;
}
