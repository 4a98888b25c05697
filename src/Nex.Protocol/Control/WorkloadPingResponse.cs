using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Reply data for <c>$NEX.WPING.&lt;ns&gt;[.&lt;filter&gt;]</c> (spec §1.6); envelope type is ping.</summary>
public sealed record WorkloadPingResponse
{
    /// <summary>The node's public server NKey.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's public XKey.</summary>
    [JsonPropertyName("target_xkey")]
    public string TargetXkey { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Node build version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Effective node tags (omitted when null or empty).</summary>
    [JsonPropertyName("tags")]
    [OmitEmpty]
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>API listener uptime in NATS uptime format.</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The matching deployed workloads (an array, unlike PING's count).</summary>
    [JsonPropertyName("running_machines")]
    public IReadOnlyList<WorkloadPingMachine> RunningMachines { get; init => field = value ?? []; } = [];
}

/// <summary>One workload in a <see cref="WorkloadPingResponse"/>.</summary>
public sealed record WorkloadPingMachine
{
    /// <summary>Workload id (= agent/VM id).</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The workload's namespace.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload type (see <see cref="WorkloadTypes"/>).</summary>
    [JsonPropertyName("type")]
    public string Type { get; init => field = value ?? string.Empty; } = string.Empty;
}
