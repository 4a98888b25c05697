using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Request body for <c>$NEX.AUCTION</c>; every field is an optional filter (spec §1.5).</summary>
public sealed record AuctionRequest
{
    /// <summary>Required architecture (tag <c>nex.arch</c>, case-insensitive).</summary>
    [JsonPropertyName("arch")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Arch { get; init; }

    /// <summary>Required OS (tag <c>nex.os</c>, case-insensitive).</summary>
    [JsonPropertyName("os")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Os { get; init; }

    /// <summary>Required sandbox mode.</summary>
    [JsonPropertyName("sandboxed")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Sandboxed { get; init; }

    /// <summary>Tags that must all be present with matching values (case-insensitive).</summary>
    [JsonPropertyName("tags")]
    [OmitEmpty]
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Workload types the node must all support.</summary>
    [JsonPropertyName("workload_types")]
    [OmitEmpty]
    public IReadOnlyList<string>? WorkloadTypes { get; init; }
}
