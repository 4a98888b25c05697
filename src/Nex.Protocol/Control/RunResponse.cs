using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Reply data for a successful DEPLOY (spec §1.8.2 step 16).</summary>
public sealed record RunResponse
{
    /// <summary>Always <see langword="true"/> on success.</summary>
    [JsonPropertyName("started")]
    public bool Started { get; init; }

    /// <summary>Workload id (= agent/VM id).</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The JWT issuer (<c>iss</c>).</summary>
    [JsonPropertyName("issuer")]
    public string Issuer { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload name (JWT <c>sub</c>).</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;
}
