using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Request body for <c>$NEX.DEPLOY.&lt;ns&gt;.&lt;node&gt;</c> (spec §1.8).</summary>
/// <remarks>
/// Decoding is lenient like Go: missing strings stay <c>""</c> and a missing or null <c>location</c> becomes
/// <see cref="WorkloadLocation.Empty"/>, so the node must validate required fields itself.
/// </remarks>
public sealed record DeployRequest
{
    /// <summary>Program arguments (omitempty).</summary>
    [JsonPropertyName("argv")]
    [OmitEmpty]
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>Description; the stock client always sends it (possibly <c>""</c>). Omitted only when null.</summary>
    [JsonPropertyName("description")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    /// <summary>Workload type (see <see cref="WorkloadTypes"/>).</summary>
    [JsonPropertyName("type")]
    public string Type { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Artifact location, written as Go's <c>url.URL</c> object.</summary>
    [JsonPropertyName("location")]
    public WorkloadLocation Location { get; init => field = value ?? WorkloadLocation.Empty; } = WorkloadLocation.Empty;

    /// <summary>Restart on non-zero exit (native only). Omitted only when null; the stock client always sends it.</summary>
    [JsonPropertyName("essential")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Essential { get; init; }

    /// <summary>Signed generic workload JWT (spec §2.1).</summary>
    [JsonPropertyName("workload_jwt")]
    public string WorkloadJwt { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Base64 of the XKey-sealed JSON environment map (spec §2.2).</summary>
    [JsonPropertyName("environment")]
    public string Environment { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>JetStream domain of the artifact bucket; <c>""</c> means none. Omitted only when null.</summary>
    [JsonPropertyName("jsdomain")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? JsDomain { get; init; }

    /// <summary>The sender's public XKey (<c>X…</c>).</summary>
    [JsonPropertyName("sender_public_key")]
    public string SenderPublicKey { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Target node id (informational; also the event source prefix).</summary>
    [JsonPropertyName("target_node")]
    public string TargetNode { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Trigger subjects for function workloads (omitempty).</summary>
    [JsonPropertyName("trigger_subjects")]
    [OmitEmpty]
    public IReadOnlyList<string>? TriggerSubjects { get; init; }

    /// <summary>Separate NATS connection for trigger subscriptions (omitted when null).</summary>
    [JsonPropertyName("trigger_connection")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public NatsJwtConnectionInfo? TriggerConnection { get; init; }

    /// <summary>Number of essential redeploys so far (omitted when null).</summary>
    [JsonPropertyName("retry_count")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public uint? RetryCount { get; init; }

    /// <summary>Time of the last essential redeploy, RFC 3339 (omitted when null).</summary>
    [JsonPropertyName("retried_at")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? RetriedAt { get; init; }

    /// <summary>Per-workload override of the host services NATS connection (omitted when null).</summary>
    [JsonPropertyName("host_services")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public NatsJwtConnectionInfo? HostServices { get; init; }

    /// <summary>Nex for .NET extension (omitempty; 0.2 nodes ignore it): per-invocation time limit
    /// of a function, milliseconds; the node's <c>function_timeout_ms</c> when absent.</summary>
    [JsonPropertyName("function_timeout_ms")]
    [OmitEmpty]
    public int? FunctionTimeoutMs { get; init; }

    /// <summary>Nex for .NET extension (omitempty): subscribe the trigger subjects in this queue
    /// group, so replicas of a function on several nodes share the messages (0.2: every replica answers).</summary>
    [JsonPropertyName("trigger_queue_group")]
    [OmitEmpty]
    public string? TriggerQueueGroup { get; init; }

    /// <summary>Nex for .NET extension (omitempty): how a V8 function's calls get their context,
    /// <c>fresh</c> (the default, 0.2's isolation) or <c>reuse</c> (see <see cref="FunctionContexts"/>).</summary>
    [JsonPropertyName("function_context")]
    [OmitEmpty]
    public string? FunctionContext { get; init; }
}

/// <summary>NATS connection details (URL, user JWT and seed); all fields are always written.</summary>
public sealed record NatsJwtConnectionInfo
{
    /// <summary>NATS server URL(s).</summary>
    [JsonPropertyName("nats_url")]
    public string NatsUrl { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>User JWT.</summary>
    [JsonPropertyName("nats_user_jwt")]
    public string NatsUserJwt { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>User NKey seed.</summary>
    [JsonPropertyName("nats_user_seed")]
    public string NatsUserSeed { get; init => field = value ?? string.Empty; } = string.Empty;
}
