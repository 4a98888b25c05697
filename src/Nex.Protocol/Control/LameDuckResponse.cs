using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Reply data for <c>$NEX.LAMEDUCK.&lt;node&gt;</c> (spec §1.10).</summary>
public sealed record LameDuckResponse
{
    /// <summary>The node id.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>True when the node is in lame duck mode.</summary>
    [JsonPropertyName("success")]
    public bool Success { get; init; }
}
