using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Request body for <c>$NEX.STOP.&lt;ns&gt;.&lt;node&gt;</c> (spec §1.9).</summary>
public sealed record StopRequest
{
    /// <summary>The id returned by DEPLOY.</summary>
    [JsonPropertyName("workload_id")]
    public string WorkloadId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>A new generic JWT for the workload name, signed by the deploying issuer.</summary>
    [JsonPropertyName("workload_jwt")]
    public string WorkloadJwt { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Target node id (informational).</summary>
    [JsonPropertyName("target_node")]
    public string TargetNode { get; init => field = value ?? string.Empty; } = string.Empty;
}

/// <summary>Reply data for a successful STOP.</summary>
public sealed record StopResponse
{
    /// <summary>Always <see langword="true"/> on success.</summary>
    [JsonPropertyName("stopped")]
    public bool Stopped { get; init; }

    /// <summary>Workload id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The original deploy issuer.</summary>
    [JsonPropertyName("issuer")]
    public string Issuer { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;
}
