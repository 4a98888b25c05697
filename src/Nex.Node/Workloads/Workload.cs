using NATS.Client.Core;
using Nex.Node.Agents;
using Nex.Node.HostServices;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>Why a workload ended; decides the event and whether an essential one comes back.</summary>
internal enum WorkloadEnd
{
    /// <summary>The agent reported that the workload exited (its own event is forwarded).</summary>
    Exited,

    /// <summary>The agent died or stopped answering.</summary>
    AgentLost,

    /// <summary>A STOP request.</summary>
    Stopped,

    /// <summary>The node is shutting down.</summary>
    NodeShutdown,
}

/// <summary>A deployed workload: the agent running it and what it was deployed with.</summary>
internal sealed class Workload(Agent agent, ValidatedDeploy deploy, Artifact artifact, DateTimeOffset deployedAt, int consecutiveFailures)
{
    private readonly Lock _gate = new();
    private Task? _ending;
    private long _functionNanos;

    public Agent Agent { get; } = agent;

    public string Id => Agent.Id;

    public string Namespace => Deploy.Namespace;

    public string Name => Deploy.Claims.Sub;

    public ValidatedDeploy Deploy { get; } = deploy;

    public WorkloadClaims Claims => Deploy.Claims;

    public DeployRequest Request => Deploy.Request;

    public string Hash { get; } = artifact.Sha256;

    public long Bytes { get; } = artifact.Bytes.LongLength;

    public DateTimeOffset DeployedAt { get; } = deployedAt;

    /// <summary>Failures in a row before this run (for the restart backoff).</summary>
    public int ConsecutiveFailures { get; } = consecutiveFailures;

    /// <summary>Host services of a function (null for services).</summary>
    public WorkloadHostServices? HostServices { get; set; }

    /// <summary>The trigger subscriptions of a function.</summary>
    public List<INatsSub<byte[]>> Triggers { get; } = [];

    /// <summary>Per-invocation time limit of a function.</summary>
    public TimeSpan FunctionTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Cleared by lame duck.</summary>
    public bool Essential { get; set; } = deploy.Request.Essential == true;

    /// <summary>The event source of this workload's agent events: <c>&lt;target_node&gt;-&lt;id&gt;</c> (spec §7.3).</summary>
    public string EventSource(string nodeId) => $"{(string.IsNullOrEmpty(Request.TargetNode) ? nodeId : Request.TargetNode)}-{Id}";

    public void AddFunctionRuntime(long nanos) => Interlocked.Add(ref _functionNanos, nanos);

    public WorkloadSnapshot Snapshot() => new(
        Id,
        Namespace,
        Name,
        Request.Description,
        Request.Type,
        Hash,
        Bytes,
        DeployedAt,
        TimeSpan.FromTicks(Interlocked.Read(ref _functionNanos) / 100),
        Claims.Iss,
        Essential,
        Request.RetryCount ?? 0);

    /// <summary>Runs <paramref name="end"/> once; later callers get the same task.</summary>
    public Task EndOnce(Func<Task> end)
    {
        lock (_gate)
        {
            return _ending ??= end();
        }
    }

    public bool IsEnding
    {
        get
        {
            lock (_gate)
            {
                return _ending is not null;
            }
        }
    }
}
