using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Data of <c>workload_deployed</c> (from the agent): <c>{"workload_name": …, "code": 0}</c>.</summary>
public sealed record WorkloadDeployedEvent
{
    /// <summary>Workload name.</summary>
    [JsonPropertyName("workload_name")]
    public string WorkloadName { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Status code (always written; 0 on deploy).</summary>
    [JsonPropertyName("code")]
    public int Code { get; init; }
}

/// <summary>
/// Data of <c>workload_undeployed</c>. The agent shape is <c>{"workload_name", "code", "message"(omitempty)}</c>;
/// the node-generated shape adds <c>name</c>, <c>reason</c> and <c>vmid</c> (all omitempty), so one record
/// carries either. <c>workload_name</c> and <c>code</c> are always written.
/// </summary>
public sealed record WorkloadUndeployedEvent
{
    /// <summary>Workload name.</summary>
    [JsonPropertyName("workload_name")]
    public string WorkloadName { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Exit code (−1 when the workload failed to start).</summary>
    [JsonPropertyName("code")]
    public int Code { get; init; }

    /// <summary>E.g. <c>Exited workload: &lt;name&gt;; vm: &lt;id&gt;; status: &lt;code&gt;</c> (omitempty).</summary>
    [JsonPropertyName("message")]
    [OmitEmpty]
    public string? Message { get; init; }

    /// <summary>Workload name in the node-generated shape (omitempty).</summary>
    [JsonPropertyName("name")]
    [OmitEmpty]
    public string? Name { get; init; }

    /// <summary>Reason in the node-generated shape, e.g. <c>Workload shutdown requested</c> (omitempty).</summary>
    [JsonPropertyName("reason")]
    [OmitEmpty]
    public string? Reason { get; init; }

    /// <summary>Workload/VM id in the node-generated shape (omitempty).</summary>
    [JsonPropertyName("vmid")]
    [OmitEmpty]
    public string? Vmid { get; init; }
}
