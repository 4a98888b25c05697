using Nex.Node.Machines;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>A deployed workload as the control API reports it.</summary>
internal sealed record WorkloadSnapshot(
    string Id,
    string Namespace,
    string Name,
    string? Description,
    string Type,
    string Hash,
    long Bytes,
    DateTimeOffset DeployedAt,
    TimeSpan FunctionRuntime,
    string Issuer,
    bool Essential,
    uint RetryCount,
    CallStats? Calls = null);

/// <summary>A DEPLOY request that passed the control-plane checks (spec §1.8.2 steps 1–10).</summary>
internal sealed record ValidatedDeploy(string Namespace, DeployRequest Request, WorkloadClaims Claims, IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>The workload's desired-state key, kept across its restarts and recoveries; null for a new workload
    /// (its key is then made from its first id).</summary>
    public string? DesiredKey { get; init; }

    /// <summary>Where it came from (<see cref="DesiredState.OriginDeploy"/> or <see cref="DesiredState.OriginAutostart"/>).</summary>
    public string Origin { get; init; } = DesiredState.OriginDeploy;
}

/// <summary>What a refusal is about, for those who replay requests (recovery, rescheduling): the request, or this node.</summary>
internal enum Rejection
{
    /// <summary>The request itself (a check refused it); it fails the same way everywhere.</summary>
    Request,

    /// <summary>The node's state (lame duck, at its limit); another time or node may take it.</summary>
    NodeState,

    /// <summary>The artifact cannot be had, or is not what the JWT pins.</summary>
    Artifact,

    /// <summary>The environment does not open with this node's xkey.</summary>
    Environment,
}

/// <summary>A request the node refuses; <see cref="Exception.Message"/> is the envelope's <c>error</c> text.</summary>
internal sealed class ControlRejectedException(string message, Rejection cause = Rejection.Request) : Exception(message)
{
    /// <summary>What the refusal is about.</summary>
    public Rejection Cause { get; } = cause;
}

/// <summary>Owns the workloads: deploys them onto agents, stops them, reports them.</summary>
internal interface IWorkloadManager : IAsyncDisposable
{
    /// <summary>Deployed workloads (not warm agents).</summary>
    IReadOnlyList<WorkloadSnapshot> Running { get; }

    /// <summary>How many there are, without building snapshots.</summary>
    int RunningCount { get; }

    /// <summary>What each deployed workload's machine uses, by workload id; at most a second old.</summary>
    IReadOnlyDictionary<string, MachineUsage> ReadUsage();

    /// <summary>Spec §1.8.2 steps 11–16.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    Task<RunResponse> DeployAsync(ValidatedDeploy deploy, CancellationToken cancellationToken);

    /// <summary>Spec §1.9 steps 3–7.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    Task<StopResponse> StopAsync(string ns, StopRequest request, CancellationToken cancellationToken);

    /// <summary>Lame duck: essential restarts stop (spec §4.11).</summary>
    void EnterLameDuck();

    /// <summary>After lame duck is announced: move the workloads to other nodes, stop the rest, then ask the node to
    /// stop (a Nex for .NET addition; 0.2 never drains). Runs in the background; once.</summary>
    void BeginDrain();

    /// <summary>Why agents keep failing to start, while they do; else null.</summary>
    string? AgentStartFailure => null;

    /// <summary>INFO's <c>desired_state</c>: <c>unavailable: &lt;why&gt;</c> when deploys are not recorded; else null.</summary>
    string? DesiredStateProblem => null;
}
