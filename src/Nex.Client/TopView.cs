using System.Text.Json.Serialization;

namespace Nex.Client;

/// <summary>The column <c>nex top</c> sorts workloads by: the numbers largest first, the name A to Z.</summary>
public enum TopSort
{
    /// <summary>Calls per second.</summary>
    CallsPerSecond,

    /// <summary>Failed calls since the deploy.</summary>
    Errors,

    /// <summary>Memory in use.</summary>
    Memory,

    /// <summary>CPU use since the last refresh.</summary>
    Cpu,

    /// <summary>Workload name.</summary>
    Name,
}

/// <summary>
/// What <c>nex top</c> shows at one refresh, and the document <c>nex top --json</c> prints. Field names are stable;
/// a value the nodes did not report (a 0.2 node, a service's calls, a rate before the second reading) is null.
/// </summary>
public sealed record TopView
{
    /// <summary>When the reading was taken.</summary>
    [JsonPropertyName("time")]
    public DateTimeOffset Time { get; init; }

    /// <summary>The namespace shown, or null for all of them.</summary>
    [JsonPropertyName("namespace")]
    public string? Namespace { get; init; }

    /// <summary>The sort column: <c>calls</c>, <c>errors</c>, <c>memory</c>, <c>cpu</c> or <c>name</c>.</summary>
    [JsonPropertyName("sort")]
    public string Sort { get; init; } = "";

    /// <summary>Totals over the nodes and the workloads shown.</summary>
    [JsonPropertyName("totals")]
    public TopTotals Totals { get; init; } = new();

    /// <summary>Every node that answered PING, by name then id.</summary>
    [JsonPropertyName("nodes")]
    public IReadOnlyList<TopNodeRow> Nodes { get; init; } = [];

    /// <summary>The workloads of the namespace shown, in sort order.</summary>
    [JsonPropertyName("workloads")]
    public IReadOnlyList<TopWorkloadRow> Workloads { get; init; } = [];
}

/// <summary>The header line's totals.</summary>
public sealed record TopTotals
{
    /// <summary>Nodes that answered PING.</summary>
    [JsonPropertyName("nodes")]
    public int Nodes { get; init; }

    /// <summary>Workloads shown.</summary>
    [JsonPropertyName("workloads")]
    public int Workloads { get; init; }

    /// <summary>Sum of the shown workloads' calls per second; null when none reports calls.</summary>
    [JsonPropertyName("calls_per_second")]
    public double? CallsPerSecond { get; init; }
}

/// <summary>One node row.</summary>
public sealed record TopNodeRow
{
    /// <summary>Node id (public server nkey).</summary>
    [JsonPropertyName("id")]
    public string Id { get; init; } = "";

    /// <summary>The <c>node_name</c> tag.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init; } = "";

    /// <summary>Node version.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary>Uptime as the node reports it (<c>3m7s</c>).</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init; } = "";

    /// <summary>Workloads running on the node, in every namespace (PING's <c>running_machines</c>).</summary>
    [JsonPropertyName("workloads")]
    public int Workloads { get; init; }

    /// <summary>Host memory in use (total minus available), in bytes; null when the node did not say.</summary>
    [JsonPropertyName("memory_used_bytes")]
    public long? MemoryUsedBytes { get; init; }

    /// <summary>Host memory, in bytes; null when the node did not say.</summary>
    [JsonPropertyName("memory_total_bytes")]
    public long? MemoryTotalBytes { get; init; }

    /// <summary>True in lame duck mode (the node takes no new workloads and is leaving).</summary>
    [JsonPropertyName("lame_duck")]
    public bool LameDuck { get; init; }

    /// <summary>Why the node cannot run new workloads, or null.</summary>
    [JsonPropertyName("unhealthy")]
    public string? Unhealthy { get; init; }

    /// <summary>Why its workloads may be missing (no INFO reply), or null.</summary>
    [JsonPropertyName("problem")]
    public string? Problem { get; init; }
}

/// <summary>One workload row.</summary>
public sealed record TopWorkloadRow
{
    /// <summary>Workload id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init; } = "";

    /// <summary>Workload name.</summary>
    [JsonPropertyName("name")]
    public string Name { get; init; } = "";

    /// <summary>Namespace.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init; } = "";

    /// <summary>Workload type (<c>native</c>, <c>v8</c>, <c>wasm</c>, …).</summary>
    [JsonPropertyName("type")]
    public string Type { get; init; } = "";

    /// <summary>The node running it.</summary>
    [JsonPropertyName("node_id")]
    public string NodeId { get; init; } = "";

    /// <summary>That node's name.</summary>
    [JsonPropertyName("node_name")]
    public string NodeName { get; init; } = "";

    /// <summary>Time since the deploy, as the node reports it.</summary>
    [JsonPropertyName("uptime")]
    public string Uptime { get; init; } = "";

    /// <summary>Calls per second: the node's figure over its last 10 s, or the change of <see cref="Calls"/> since the previous reading.</summary>
    [JsonPropertyName("calls_per_second")]
    public double? CallsPerSecond { get; init; }

    /// <summary>Calls since the deploy.</summary>
    [JsonPropertyName("calls")]
    public long? Calls { get; init; }

    /// <summary>Failed calls since the deploy.</summary>
    [JsonPropertyName("errors")]
    public long? Errors { get; init; }

    /// <summary>Median call round trip through the node, in microseconds; null before the first call.</summary>
    [JsonPropertyName("p50_us")]
    public long? P50Micros { get; init; }

    /// <summary>99th percentile of the same, in microseconds.</summary>
    [JsonPropertyName("p99_us")]
    public long? P99Micros { get; init; }

    /// <summary>Host-service calls the function made since its deploy.</summary>
    [JsonPropertyName("host_service_calls")]
    public long? HostServiceCalls { get; init; }

    /// <summary>Memory in use, in bytes.</summary>
    [JsonPropertyName("memory_bytes")]
    public long? MemoryBytes { get; init; }

    /// <summary>The machine's memory limit, in bytes (null: none, or not reported).</summary>
    [JsonPropertyName("memory_limit_bytes")]
    public long? MemoryLimitBytes { get; init; }

    /// <summary>CPU time used so far, in seconds.</summary>
    [JsonPropertyName("cpu_seconds")]
    public double? CpuSeconds { get; init; }

    /// <summary>CPU use between the previous reading and this one, in percent of one core; null on the first reading.</summary>
    [JsonPropertyName("cpu_percent")]
    public double? CpuPercent { get; init; }

    /// <summary>Restarts of an essential workload.</summary>
    [JsonPropertyName("restarts")]
    public uint Restarts { get; init; }

    /// <summary>Restarted when it fails.</summary>
    [JsonPropertyName("essential")]
    public bool Essential { get; init; }
}
