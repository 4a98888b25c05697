using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>The node configuration's <c>autostart</c> object: <c>{ "workloads": [...] }</c> (spec §4.12).</summary>
public sealed record AutostartConfig
{
    /// <summary>Workloads to deploy at node start.</summary>
    [JsonPropertyName("workloads")]
    public IReadOnlyList<AutostartDeployRequest> Workloads
    {
        get;
        init => field = value ?? [];
    } = [];
}

/// <summary>One autostart workload (spec §4.12). Unlike DEPLOY, <c>location</c> is a plain URL string.</summary>
public sealed record AutostartDeployRequest
{
    /// <summary>Workload name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload namespace.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Program arguments (omitempty).</summary>
    [JsonPropertyName("argv")]
    [OmitEmpty]
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>Description (optional).</summary>
    [JsonPropertyName("description")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    /// <summary>Restart on non-zero exit (honoured for native only).</summary>
    [JsonPropertyName("essential")]
    public bool Essential { get; init; }

    /// <summary>Workload type.</summary>
    [JsonPropertyName("type")]
    public string Type { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Artifact URL, e.g. <c>nats://NEXCLIFILES/echofunctionjs</c> (see <see cref="WorkloadLocation.Parse"/>).</summary>
    [JsonPropertyName("location")]
    public string Location { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>JetStream domain (optional).</summary>
    [JsonPropertyName("jsdomain")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JsDomain { get; init; }

    /// <summary>Plaintext environment.</summary>
    [JsonPropertyName("environment")]
    public IReadOnlyDictionary<string, string> Environment
    {
        get;
        init => field = value ?? new Dictionary<string, string>();
    } = new Dictionary<string, string>();

    /// <summary>Trigger subjects (omitempty).</summary>
    [JsonPropertyName("trigger_subjects")]
    [OmitEmpty]
    public IReadOnlyList<string>? TriggerSubjects { get; init; }
}
