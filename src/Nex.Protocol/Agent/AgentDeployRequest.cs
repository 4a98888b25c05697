using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Node → agent deploy request on <c>agentint.&lt;id&gt;.deploy</c> (spec §5.5).</summary>
public sealed record AgentDeployRequest
{
    /// <summary>Program arguments (omitempty).</summary>
    [JsonPropertyName("argv")]
    [OmitEmpty]
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>Description; always written, possibly <c>null</c>.</summary>
    [JsonPropertyName("description")]
    public string? Description { get; init; }

    /// <summary>Decrypted plaintext environment; always written.</summary>
    [JsonPropertyName("environment")]
    public IReadOnlyDictionary<string, string> Environment
    {
        get;
        init => field = value ?? new Dictionary<string, string>();
    } = new Dictionary<string, string>();

    /// <summary>Essential flag (omitempty; only allowed for native/oci).</summary>
    [JsonPropertyName("essential")]
    [OmitEmpty]
    public bool Essential { get; init; }

    /// <summary>Node-computed SHA-256 hex of the artifact (omitempty).</summary>
    [JsonPropertyName("hash")]
    [OmitEmpty]
    public string Hash { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload namespace (omitempty).</summary>
    [JsonPropertyName("namespace")]
    [OmitEmpty]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Time of the last essential redeploy (omitted when null).</summary>
    [JsonPropertyName("retried_at")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? RetriedAt { get; init; }

    /// <summary>Number of essential redeploys (omitempty).</summary>
    [JsonPropertyName("retry_count")]
    [OmitEmpty]
    public uint? RetryCount { get; init; }

    /// <summary>Artifact size in bytes (omitempty; the agent requires &gt; 0).</summary>
    [JsonPropertyName("total_bytes")]
    [OmitEmpty]
    public long TotalBytes { get; init; }

    /// <summary>Trigger subjects; always written, possibly <c>null</c>.</summary>
    [JsonPropertyName("trigger_subjects")]
    public IReadOnlyList<string>? TriggerSubjects { get; init; }

    /// <summary>Trigger connection (omitted when null).</summary>
    [JsonPropertyName("trigger_connection")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public NatsJwtConnectionInfo? TriggerConnection { get; init; }

    /// <summary>Workload name (omitempty).</summary>
    [JsonPropertyName("workload_name")]
    [OmitEmpty]
    public string WorkloadName { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload type (omitempty). Note the JSON name is <c>workload_type</c>, not <c>type</c>.</summary>
    [JsonPropertyName("workload_type")]
    [OmitEmpty]
    public string WorkloadType { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Host services connection override (omitted when null).</summary>
    [JsonPropertyName("host_services")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public NatsJwtConnectionInfo? HostServices { get; init; }

    /// <summary>Nex for .NET extension (omitempty): per-invocation time limit of a function, milliseconds.</summary>
    [JsonPropertyName("function_timeout_ms")]
    [OmitEmpty]
    public int FunctionTimeoutMs { get; init; }

    /// <summary>Nex for .NET extension (omitempty): the deploy's <c>function_context</c>
    /// (<see cref="FunctionContexts"/>; empty: fresh).</summary>
    [JsonPropertyName("function_context")]
    [OmitEmpty]
    public string FunctionContext { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Nex for .NET extension (omitempty): largest accepted JavaScript source, bytes (0.2: 12 288).</summary>
    [JsonPropertyName("max_source_bytes")]
    [OmitEmpty]
    public int MaxSourceBytes { get; init; }

    /// <summary>Nex for .NET extension (omitempty): memory limit of one function instance (V8 heap, WASM linear memory), bytes.</summary>
    [JsonPropertyName("max_memory_bytes")]
    [OmitEmpty]
    public long MaxMemoryBytes { get; init; }

    /// <summary>
    /// Nex for .NET extension (omitted when null): a program already in the sandbox to run instead of an
    /// artifact (an OCI image's entrypoint, the image being the sandbox's root). Nothing is fetched.
    /// </summary>
    [JsonPropertyName("command")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Command { get; init; }

    /// <summary>Nex for .NET extension (omitted when null): the working directory of a native process.</summary>
    [JsonPropertyName("working_dir")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// Nex for .NET extension (omitted when null): the artifact itself (base64 on the wire), sent by the node
    /// when it is small (<see cref="InlineArtifactLimit"/>), so the agent needs no round trip to fetch it.
    /// Larger artifacts are fetched from the node in chunks, as before.
    /// </summary>
    [JsonPropertyName("artifact_bytes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public byte[]? InlineArtifact { get; init; }

    /// <summary>Largest artifact the node sends inside the deploy request (256 KiB; well under NATS's 1 MiB message limit once base64-encoded).</summary>
    public const int InlineArtifactLimit = 256 * 1024;
}

/// <summary>Agent reply to a deploy request: <c>{"accepted": bool, "message": string|null}</c>.</summary>
public sealed record AgentDeployResponse
{
    /// <summary>Whether the agent accepted the workload.</summary>
    [JsonPropertyName("accepted")]
    public bool Accepted { get; init; }

    /// <summary>Rejection reasons or <c>Workload deployed</c>; always written, possibly <c>null</c>.</summary>
    [JsonPropertyName("message")]
    public string? Message { get; init; }
}
