namespace Nex.Protocol;

/// <summary>CloudEvent <c>type</c> values (spec §7.2).</summary>
public static class EventTypes
{
    /// <summary>Node started (namespace <c>system</c>).</summary>
    public const string NodeStarted = "node_started";

    /// <summary>Node stopped (namespace <c>system</c>).</summary>
    public const string NodeStopped = "node_stopped";

    /// <summary>Node entered lame duck mode (namespace <c>system</c>).</summary>
    public const string NodeEnteredLameDuck = "node_entered_lameduck";

    /// <summary>Periodic heartbeat (namespace <c>system</c>).</summary>
    public const string Heartbeat = "heartbeat";

    /// <summary>A workload started (from the agent).</summary>
    public const string WorkloadDeployed = "workload_deployed";

    /// <summary>A workload exited, failed or was stopped.</summary>
    public const string WorkloadUndeployed = "workload_undeployed";

    /// <summary>A function trigger succeeded.</summary>
    public const string FunctionExecSucceeded = "function_exec_succeeded";

    /// <summary>A function trigger failed.</summary>
    public const string FunctionExecFailed = "function_exec_failed";

    /// <summary>
    /// The node's agents keep failing to start (namespace <c>system</c>; a Nex for .NET addition): published
    /// once per run of failures, when it reaches the pool's threshold.
    /// </summary>
    public const string AgentStartFailed = "agent_start_failed";

    /// <summary>
    /// The node cannot run new workloads: its internal NATS server died and is being restarted, could
    /// not be restarted, or keeps dying (namespace <c>system</c>; a Nex for .NET addition). Published
    /// again when the reason changes.
    /// </summary>
    public const string NodeUnhealthy = "node_unhealthy";

    /// <summary>The node is healthy again after <see cref="NodeUnhealthy"/> (namespace <c>system</c>; a Nex for .NET addition).</summary>
    public const string NodeHealthy = "node_healthy";

    /// <summary>A workload recorded as desired for this node could not be run again at its start (namespace of the
    /// workload; a Nex for .NET addition).</summary>
    public const string WorkloadRecoveryFailed = "workload_recovery_failed";

    /// <summary>A lame-duck node finished draining (its workloads moved or stopped) and exits (namespace <c>system</c>;
    /// a Nex for .NET addition: 0.2's lame duck never ends).</summary>
    public const string NodeDrained = "node_drained";

    /// <summary>A workload of a dead or draining node was claimed and runs on another node now (namespace of the
    /// workload; a Nex for .NET addition).</summary>
    public const string WorkloadRescheduled = "workload_rescheduled";

    /// <summary>Declared in Go but never emitted.</summary>
    public const string AgentStarted = "agent_started";

    /// <summary>Declared in Go but never emitted.</summary>
    public const string AgentStopped = "agent_stopped";
}
