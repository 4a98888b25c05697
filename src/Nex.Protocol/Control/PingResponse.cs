using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Reply data for <c>$NEX.PING</c> and <c>$NEX.AUCTION</c> (spec §1.4, §1.5).</summary>
public sealed record PingResponse
{
    /// <summary>The node's public server NKey.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's <c>--nexus</c> name (omitempty).</summary>
    [JsonPropertyName("nexus")]
    [OmitEmpty]
    public string? Nexus { get; init; }

    /// <summary>Node build version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>API listener uptime in NATS uptime format (<see cref="NexUptime.Format"/>).</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's public XKey (recipient for deploy environment encryption).</summary>
    [JsonPropertyName("target_xkey")]
    public string TargetXkey { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Effective node tags (omitted when null or empty).</summary>
    [JsonPropertyName("tags")]
    [OmitEmpty]
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Number of agents with a deployed workload.</summary>
    [JsonPropertyName("running_machines")]
    public int RunningMachines { get; init; }

    /// <summary>
    /// Free capacity, in AUCTION bids only (PING leaves it out, so its reply stays 0.2's); null in a 0.2
    /// node's bid. A Nex for .NET addition that 0.2 clients ignore.
    /// </summary>
    [JsonPropertyName("capacity")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AuctionCapacity? Capacity { get; init; }

    /// <summary>
    /// Why the node cannot run new workloads right now (its internal NATS server is down or keeps dying),
    /// or null when it is healthy. A Nex for .NET addition, left out when null, so a healthy node's reply
    /// is 0.2's to the byte and 0.2 clients ignore it.
    /// </summary>
    [JsonPropertyName("unhealthy")]
    [OmitEmpty]
    public string? Unhealthy { get; init; }
}
