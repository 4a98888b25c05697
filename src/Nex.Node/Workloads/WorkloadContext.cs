using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Events;
using Nex.Node.HostServices;

namespace Nex.Node.Workloads;

/// <summary>What every running workload of a node shares: the node, where events go, the connections and
/// clients its host services use, its watchdog and restart policy, and the node's stopping token.</summary>
/// <param name="Node">The node (its clock, config, lame duck, internal server health).</param>
/// <param name="Events">Publishes events and log lines on the main NATS.</param>
/// <param name="MainNats">The node's main connection (host services and triggers use it unless told otherwise).</param>
/// <param name="Http">The node's HTTP client for the http host service.</param>
/// <param name="Loggers">Logger factory (host services log in their own category).</param>
/// <param name="Logger">The workload manager's logger: a workload logs as the manager did.</param>
/// <param name="Watchdog">Watches each workload's agent.</param>
/// <param name="RestartPolicy">Decides whether an ended workload comes back.</param>
/// <param name="NodeStopping">Cancelled when the node shuts down.</param>
internal sealed record WorkloadContext(
    NodeState Node,
    EventPublisher Events,
    INatsConnection MainNats,
    HostHttpClient Http,
    ILoggerFactory Loggers,
    ILogger Logger,
    AgentWatchdog Watchdog,
    EssentialRestartPolicy RestartPolicy,
    CancellationToken NodeStopping);

/// <summary>What a running workload tells the registry that holds it.</summary>
internal interface IWorkloadOwner
{
    /// <summary>The workload began to end: it is no longer running, but late agent events still find it.</summary>
    void OnEnding(RunningWorkload workload);

    /// <summary>The workload ended in a way that brings it back: redeploy it after the backoff for
    /// <paramref name="consecutiveFailures"/> failures in a row.</summary>
    void OnRestartWanted(ValidatedDeploy deploy, int consecutiveFailures);

    /// <summary>The workload ended for good (a STOP, or an end that brings it back neither here nor after a node
    /// restart): it is no longer desired.</summary>
    Task OnGoneAsync(RunningWorkload workload);
}
