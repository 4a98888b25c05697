using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Data of <c>node_started</c>.</summary>
public sealed record NodeStartedEvent
{
    /// <summary>Node build version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Node id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Effective tags (omitempty).</summary>
    [JsonPropertyName("tags")]
    [OmitEmpty]
    public IReadOnlyDictionary<string, string>? Tags { get; init; }
}

/// <summary>Data of <c>node_stopped</c>.</summary>
public sealed record NodeStoppedEvent
{
    /// <summary>Node id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>True for an orderly shutdown.</summary>
    [JsonPropertyName("graceful")]
    public bool Graceful { get; init; }
}

/// <summary>Data of <c>agent_start_failed</c> (a Nex for .NET addition): the warm pool's agents keep failing to start.</summary>
public sealed record AgentStartFailedEvent
{
    /// <summary>Node id.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Consecutive failed starts so far.</summary>
    [JsonPropertyName("failures")]
    public int Failures { get; init; }

    /// <summary>The last start's error.</summary>
    [JsonPropertyName("reason")]
    public string Reason { get; init => field = value ?? string.Empty; } = string.Empty;
}

/// <summary>Data of <c>node_entered_lameduck</c>.</summary>
public sealed record LameDuckEnteredEvent
{
    /// <summary>Node build version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Node id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;
}

/// <summary>Data of <c>heartbeat</c> (every 30 s).</summary>
public sealed record HeartbeatEvent
{
    /// <summary>Node build version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Node id.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Nexus name (omitempty).</summary>
    [JsonPropertyName("nexus")]
    [OmitEmpty]
    public string? Nexus { get; init; }

    /// <summary>Time since node start in NATS uptime format.</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Effective tags (omitempty).</summary>
    [JsonPropertyName("tags")]
    [OmitEmpty]
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Number of deployed workloads.</summary>
    [JsonPropertyName("running_machines")]
    public int RunningMachines { get; init; }

    /// <summary>
    /// Why the node cannot run new workloads right now (its internal NATS server is down or keeps dying),
    /// or null when it is healthy. A Nex for .NET addition, left out when null, so a healthy node's reply
    /// is 0.2's to the byte and 0.2 clients ignore it.
    /// </summary>
    [JsonPropertyName("unhealthy")]
    [OmitEmpty]
    public string? Unhealthy { get; init; }
}

/// <summary>Data of <c>node_unhealthy</c> and <c>node_healthy</c> (Nex for .NET additions, namespace <c>system</c>).</summary>
public sealed record NodeHealthEvent
{
    /// <summary>Node id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Whether the node is healthy now.</summary>
    [JsonPropertyName("healthy")]
    public bool Healthy { get; init; }

    /// <summary>What is wrong (omitted when healthy).</summary>
    [JsonPropertyName("reason")]
    [OmitEmpty]
    public string? Reason { get; init; }
}
