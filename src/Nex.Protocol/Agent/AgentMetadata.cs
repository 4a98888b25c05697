using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>The sandbox metadata document (the MMDS shape of spec §5.4).</summary>
public sealed record AgentMetadata
{
    /// <summary>Workload id.</summary>
    [JsonPropertyName("vmid")]
    public string? VmId { get; init; }

    /// <summary>Internal NATS host.</summary>
    [JsonPropertyName("node_nats_host")]
    public string? NodeNatsHost { get; init; }

    /// <summary>Internal NATS port.</summary>
    [JsonPropertyName("node_nats_port")]
    public int? NodeNatsPort { get; init; }

    /// <summary>Workload user seed.</summary>
    [JsonPropertyName("node_nats_nkey")]
    public string? NodeNatsNkey { get; init; }

    /// <summary>Handshake message.</summary>
    [JsonPropertyName("message")]
    public string? Message { get; init; }
}
