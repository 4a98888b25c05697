using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// One workload that should be running, as kept in the <see cref="DesiredState.Bucket"/> JetStream KV bucket
/// (a Nex for .NET addition). The value of key <c>&lt;namespace&gt;.&lt;first workload id&gt;</c>: the first id
/// stays the key across essential restarts and recoveries, which give the workload new ids.
/// </summary>
public sealed record DesiredWorkload
{
    /// <summary>The namespace the DEPLOY arrived in.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The workload's name (the JWT's subject).</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node that runs it (its public server nkey).</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The current agent/workload id (changes with every restart).</summary>
    [JsonPropertyName("workload_id")]
    public string WorkloadId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>How it came: <c>deploy</c> (the control API) or <c>autostart</c> (the node's config, which deploys it again at start).</summary>
    [JsonPropertyName("origin")]
    public string Origin { get; init => field = value ?? string.Empty; } = DesiredState.OriginDeploy;

    /// <summary>The signed DEPLOY request as received: JWT, location, triggers, options and the environment still
    /// sealed to the node's xkey. Never a decrypted secret.</summary>
    [JsonPropertyName("request")]
    public DeployRequest Request { get; init => field = value ?? new DeployRequest(); } = new();

    /// <summary>When the workload was first accepted.</summary>
    [JsonPropertyName("created_at")]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When this record last changed (deploy, restart, recovery).</summary>
    [JsonPropertyName("updated_at")]
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>True when its node released it (a drain): any live node may claim it, by compare-and-set, as it
    /// would claim the record of a dead node.</summary>
    [JsonPropertyName("handoff")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Handoff { get; init; }

    /// <summary>Restarts so far (the request's <c>retry_count</c>).</summary>
    [JsonPropertyName("retry_count")]
    public uint RetryCount { get; init; }
}

/// <summary>Names of the desired-state bucket and its keys.</summary>
public static class DesiredState
{
    /// <summary>The JetStream KV bucket on the node's main NATS system.</summary>
    public const string Bucket = "NEX_DESIRED";

    /// <summary><see cref="DesiredWorkload.Origin"/> of a DEPLOY (any client, run, devrun).</summary>
    public const string OriginDeploy = "deploy";

    /// <summary><see cref="DesiredWorkload.Origin"/> of an autostart workload.</summary>
    public const string OriginAutostart = "autostart";

    /// <summary>The key of a workload: <c>&lt;namespace&gt;.&lt;first workload id&gt;</c> (both are valid KV key tokens).</summary>
    public static string Key(string ns, string firstWorkloadId) => $"{ns}.{firstWorkloadId}";

    /// <summary>The namespace part of a key, or null.</summary>
    public static string? NamespaceOf(string key) => key.IndexOf('.', StringComparison.Ordinal) is > 0 and var dot ? key[..dot] : null;
}

/// <summary>Data of <c>workload_recovery_failed</c> (a Nex for .NET addition): a recorded workload could not be run again.</summary>
public sealed record WorkloadRecoveryFailedEvent
{
    /// <summary>The node that tried.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The record's key.</summary>
    [JsonPropertyName("key")]
    public string Key { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The workload's name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Why (the deploy's one-line error).</summary>
    [JsonPropertyName("reason")]
    public string Reason { get; init => field = value ?? string.Empty; } = string.Empty;
}
