using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Reply data for <c>$NEX.INFO.&lt;ns&gt;.&lt;node&gt;</c> (spec §1.7).</summary>
public sealed record InfoResponse
{
    /// <summary>Node build version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>API listener uptime in NATS uptime format.</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The node's public XKey (same as <c>target_xkey</c>).</summary>
    [JsonPropertyName("public_xkey")]
    public string PublicXkey { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Effective node tags (omitted when null or empty).</summary>
    [JsonPropertyName("tags")]
    [OmitEmpty]
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Host memory in kB; omitted when unknown (non-Linux).</summary>
    [JsonPropertyName("memory")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MemoryStat? Memory { get; init; }

    /// <summary>Deployed workloads in the requested namespace. Never null: written as <c>[]</c> when empty.</summary>
    [JsonPropertyName("machines")]
    public IReadOnlyList<MachineSummary> Machines
    {
        get;
        init => field = value ?? [];
    } = [];

    /// <summary>The node's configured workload types (omitempty).</summary>
    [JsonPropertyName("supported_workload_types")]
    [OmitEmpty]
    public IReadOnlyList<string>? SupportedWorkloadTypes { get; init; }

    /// <summary>How often the node lost its main NATS connection since it started (a Nex for .NET
    /// addition; omitted while 0, so a healthy node answers exactly as 0.2).</summary>
    [JsonPropertyName("nats_disconnects")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long NatsDisconnects { get; init; }

    /// <summary>
    /// Why the node's agents keep failing to start (the last start's error), while they do; omitted otherwise.
    /// A Nex for .NET addition: deploys fail meanwhile, naming the same cause.
    /// </summary>
    [JsonPropertyName("agent_start_failure")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? AgentStartFailure { get; init; }

    /// <summary>
    /// Why the node cannot run new workloads right now (its internal NATS server is down or keeps dying),
    /// or null when it is healthy. A Nex for .NET addition, left out when null, so a healthy node's reply
    /// is 0.2's to the byte and 0.2 clients ignore it.
    /// </summary>
    [JsonPropertyName("unhealthy")]
    [OmitEmpty]
    public string? Unhealthy { get; init; }

    /// <summary>
    /// <c>unavailable: &lt;why&gt;</c> when the node cannot record its workloads in the desired-state bucket (no
    /// JetStream on its main NATS, or the bucket was refused): they run, but are not recovered after a restart.
    /// A Nex for .NET addition, left out when the desired state works, so 0.2 clients see 0.2's reply.
    /// </summary>
    [JsonPropertyName("desired_state")]
    [OmitEmpty]
    public string? DesiredState { get; init; }
}

/// <summary>Host memory figures from <c>/proc/meminfo</c>, in kB.</summary>
public sealed record MemoryStat
{
    /// <summary><c>MemTotal</c> in kB.</summary>
    [JsonPropertyName("total")]
    public long Total { get; init; }

    /// <summary><c>MemFree</c> in kB.</summary>
    [JsonPropertyName("free")]
    public long Free { get; init; }

    /// <summary><c>MemAvailable</c> in kB.</summary>
    [JsonPropertyName("available")]
    public long Available { get; init; }
}

/// <summary>One deployed workload in an <see cref="InfoResponse"/>.</summary>
public sealed record MachineSummary
{
    /// <summary>Workload id (= agent/VM id).</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Always <see langword="true"/> in 0.2.7.</summary>
    [JsonPropertyName("healthy")]
    public bool Healthy { get; init; }

    /// <summary>Time since the deploy was acknowledged, or <c>unknown</c>.</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The workload's namespace (omitempty).</summary>
    [JsonPropertyName("namespace")]
    [OmitEmpty]
    public string? Namespace { get; init; }

    /// <summary>Workload details.</summary>
    [JsonPropertyName("workload")]
    public WorkloadSummary Workload { get; init => field = value ?? new(); } = new();

    /// <summary>Nex for .NET extension (omitempty; 0.2 clients ignore it): how many times this
    /// essential workload has been restarted.</summary>
    [JsonPropertyName("retry_count")]
    [OmitEmpty]
    public uint RetryCount { get; init; }

    /// <summary>Nex for .NET extension (omitempty): restarted when it fails.</summary>
    [JsonPropertyName("essential")]
    [OmitEmpty]
    public bool Essential { get; init; }

    /// <summary>Nex for .NET extension (omitted when unknown): what the workload's machine uses now.</summary>
    [JsonPropertyName("resources")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MachineResources? Resources { get; init; }

    /// <summary>Nex for .NET extension (omitted for services): the function's calls as this node relayed them.</summary>
    [JsonPropertyName("calls")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CallStats? Calls { get; init; }
}

/// <summary>A function's calls since its deploy on this node, and over a recent window (what <c>nex top</c> shows).</summary>
public sealed record CallStats
{
    /// <summary>Triggers relayed since the deploy, answered or not.</summary>
    [JsonPropertyName("total")]
    public long Total { get; init; }

    /// <summary>Of <see cref="Total"/>, the calls that failed (the function threw, timed out, ran out of memory, or no agent answered).</summary>
    [JsonPropertyName("errors")]
    public long Errors { get; init; }

    /// <summary>Calls per second over the last 10 seconds.</summary>
    [JsonPropertyName("per_second")]
    public double PerSecond { get; init; }

    /// <summary>Median round trip of a call through the node (relay to the agent and back), in microseconds, over the
    /// most recent calls (at most the last minute); 0 before any.</summary>
    [JsonPropertyName("p50_us")]
    public long P50Micros { get; init; }

    /// <summary>The 99th percentile of the same round trips, in microseconds.</summary>
    [JsonPropertyName("p99_us")]
    public long P99Micros { get; init; }

    /// <summary>Host-service calls the function made since its deploy.</summary>
    [JsonPropertyName("host_service_calls")]
    public long HostServiceCalls { get; init; }
}

/// <summary>What one machine (sandbox, VM, or agent process tree) uses, as INFO reports it; at most a second old.</summary>
public sealed record MachineResources
{
    /// <summary>Memory in use, in bytes: the sandbox's cgroup, the VM's QEMU process, or the resident memory of the agent's process tree.</summary>
    [JsonPropertyName("memory_bytes")]
    public long MemoryBytes { get; init; }

    /// <summary>The machine's memory limit in bytes (omitted without a sandbox: no limit).</summary>
    [JsonPropertyName("memory_limit_bytes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? MemoryLimitBytes { get; init; }

    /// <summary>CPU time used so far by the machine's live processes, in seconds.</summary>
    [JsonPropertyName("cpu_seconds")]
    public double CpuSeconds { get; init; }

    /// <summary>Host processes that embody the machine (wrappers, agent, workload).</summary>
    [JsonPropertyName("processes")]
    public int Processes { get; init; }
}

/// <summary>Workload details inside a <see cref="MachineSummary"/>.</summary>
public sealed record WorkloadSummary
{
    /// <summary>Workload name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Description (omitempty).</summary>
    [JsonPropertyName("description")]
    [OmitEmpty]
    public string? Description { get; init; }

    /// <summary>
    /// For functions, cumulative execution time (<see cref="NexUptime.FormatRuntime"/>); otherwise the
    /// uptime; <c>unknown</c> without an agent.
    /// </summary>
    [JsonPropertyName("runtime")]
    public string Runtime { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload type.</summary>
    [JsonPropertyName("type")]
    public string Type { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>SHA-256 hex digest of the artifact, computed by the node.</summary>
    [JsonPropertyName("hash")]
    public string Hash { get; init => field = value ?? string.Empty; } = string.Empty;
}
