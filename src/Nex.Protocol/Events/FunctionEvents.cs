using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Data of <c>function_exec_succeeded</c>.</summary>
public sealed record FunctionExecSucceededEvent
{
    /// <summary>Workload name.</summary>
    [JsonPropertyName("workload_name")]
    public string WorkloadName { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The subscription (trigger) subject.</summary>
    [JsonPropertyName("trigger_subject")]
    public string TriggerSubject { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Execution time reported by the agent, in nanoseconds (0 for WASM).</summary>
    [JsonPropertyName("elapsed_nanos")]
    public long ElapsedNanos { get; init; }

    /// <summary>Workload namespace.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;
}

/// <summary>Data of <c>function_exec_failed</c>.</summary>
public sealed record FunctionExecFailedEvent
{
    /// <summary>Workload name.</summary>
    [JsonPropertyName("workload_name")]
    public string WorkloadName { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The subscription (trigger) subject.</summary>
    [JsonPropertyName("trigger_subject")]
    public string TriggerSubject { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Workload namespace.</summary>
    [JsonPropertyName("namespace")]
    public string Namespace { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Error text.</summary>
    [JsonPropertyName("error")]
    public string Error { get; init => field = value ?? string.Empty; } = string.Empty;
}
