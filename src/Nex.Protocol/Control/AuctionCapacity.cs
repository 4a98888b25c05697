using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// What a node has free, sent with its AUCTION bid as <c>capacity</c> so a client can place a workload on
/// the best bidder (a Nex for .NET addition; 0.2 clients ignore it, and a 0.2 node sends none). The bid's
/// 0.2 field <c>running_machines</c> is the node's running workload count.
/// </summary>
public sealed record AuctionCapacity
{
    /// <summary>The node's workload limit (<c>node_limits.max_workloads</c>); omitted when the node has none.</summary>
    [JsonPropertyName("max_workloads")]
    [OmitEmpty]
    public int MaxWorkloads { get; init; }

    /// <summary>Host memory (<c>MemTotal</c>) in kB; omitted when the node cannot read it.</summary>
    [JsonPropertyName("memory_total_kb")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? MemoryTotalKb { get; init; }

    /// <summary>Host memory still available to new processes (<c>MemAvailable</c>) in kB; omitted when unknown.</summary>
    [JsonPropertyName("memory_available_kb")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? MemoryAvailableKb { get; init; }

    /// <summary>Logical CPUs of the node's host.</summary>
    [JsonPropertyName("cpu_count")]
    public int CpuCount { get; init; }

    /// <summary>Agents started and waiting in the warm pool (a deploy there skips an agent start); omitted when unknown.</summary>
    [JsonPropertyName("warm_agents")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? WarmAgents { get; init; }

    /// <summary>The node is in lame duck mode: it still bids (as 0.2 does) but refuses every deploy.</summary>
    [JsonPropertyName("lame_duck")]
    public bool LameDuck { get; init; }

    /// <summary>Why agents keep failing to start, while they do (deploys then fail at once); omitted otherwise.</summary>
    [JsonPropertyName("agent_start_failure")]
    [OmitEmpty]
    public string? AgentStartFailure { get; init; }
}
