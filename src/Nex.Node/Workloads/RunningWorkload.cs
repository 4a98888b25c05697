using System.Text.Json;
using Microsoft.Extensions.Logging;
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

    /// <summary>Its desired-state record now names another node (rescheduled there after a partition, or handed
    /// over by a drain): ends like a STOP, but the record is the other node's now and stays, and it never restarts.</summary>
    Moved,
}

/// <summary>
/// One deployed workload and everything it owns: its agent (and link), the watchdog on that agent, a function's
/// trigger subscriptions and host services, the events it forwards and publishes, and its end, which happens
/// exactly once and decides whether it is restarted.
/// </summary>
internal sealed partial class RunningWorkload
{
    private static readonly TimeSpan UndeployTimeout = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan AgentStopGrace = TimeSpan.FromSeconds(3);

    private readonly WorkloadContext _context;
    private readonly IWorkloadOwner _owner;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _watching;

    // Host-service calls in flight: cancelled when the agent is destroyed (nobody waits for their answers then, and
    // the agent's link waits for them as it closes) or when the node stops.
    private readonly CancellationTokenSource _calls;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _ending;
    private Task _watchdog = Task.CompletedTask;
    private int _essential;

    public RunningWorkload(Agent agent, ValidatedDeploy deploy, Artifact artifact, int consecutiveFailures, WorkloadContext context, IWorkloadOwner owner)
    {
        Agent = agent;
        Deploy = deploy;
        Hash = artifact.Sha256;
        Bytes = artifact.Bytes.LongLength;
        ConsecutiveFailures = consecutiveFailures;
        _context = context;
        _owner = owner;
        DeployedAt = context.Node.Time.GetUtcNow();
        FunctionTimeout = AgentDeployRequests.FunctionTimeout(deploy.Request, context.Node.Config);
        _essential = deploy.Request.Essential == true ? 1 : 0;
        _watching = CancellationTokenSource.CreateLinkedTokenSource(context.NodeStopping);
        _calls = CancellationTokenSource.CreateLinkedTokenSource(context.NodeStopping);
        Calls = new Telemetry.WorkloadCalls(context.Node.Metrics, context.Node.Time, Namespace, Name);
    }

    public Agent Agent { get; }

    public string Id => Agent.Id;

    public string Namespace => Deploy.Namespace;

    public string Name => Deploy.Claims.Sub;

    public ValidatedDeploy Deploy { get; }

    public WorkloadClaims Claims => Deploy.Claims;

    public DeployRequest Request => Deploy.Request;

    public string Hash { get; }

    public long Bytes { get; }

    public DateTimeOffset DeployedAt { get; }

    /// <summary>Failures in a row before this run (for the restart backoff).</summary>
    public int ConsecutiveFailures { get; }

    /// <summary>Per-invocation time limit of a function.</summary>
    public TimeSpan FunctionTimeout { get; }

    /// <summary>Whether a failure brings it back; cleared by lame duck.</summary>
    public bool Essential => Volatile.Read(ref _essential) != 0;

    /// <summary>True once its end began (or it was abandoned).</summary>
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

    /// <summary>Completes when it has ended and everything it ran has finished (watchdog, trigger relays in flight).</summary>
    public Task Completion => _done.Task;

    /// <summary>Lame duck: a failure no longer brings it back.</summary>
    public void ClearEssential() => Volatile.Write(ref _essential, 0);

    /// <summary>The event source of this workload's agent events: <c>&lt;target_node&gt;-&lt;id&gt;</c> (spec §7.3).</summary>
    public string EventSource(string nodeId) => $"{(string.IsNullOrEmpty(Request.TargetNode) ? nodeId : Request.TargetNode)}-{Id}";

    public WorkloadSnapshot Snapshot() => new(
        Id,
        Namespace,
        Name,
        Request.Description,
        Request.Type,
        Hash,
        Bytes,
        DeployedAt,
        Calls.Runtime,
        Claims.Iss,
        Essential,
        Request.RetryCount ?? 0,
        WorkloadTypes.IsFunction(Request.Type) ? Calls.Read() : null);

    /// <summary>Starts watching the agent (unless the workload already ends); a lost agent ends the workload.</summary>
    public void StartWatchdog()
    {
        lock (_gate)
        {
            if (_ending is null)
            {
                _watchdog = Task.Run(WatchAsync);
            }
        }
    }

    /// <summary>
    /// Ends the workload once, whoever asks first (later callers share the first end). Graceful ends (STOP,
    /// shutdown) ask the agent to undeploy, which returns only when the workload's process tree is gone. The agent
    /// and its credentials are always destroyed. Every end except a reported exit (whose agent event was already
    /// forwarded) publishes the node's own <c>workload_undeployed</c> (0.2 never did, §11 #5).
    /// </summary>
    public Task EndAsync(WorkloadEnd why, int exitCode, string? message) => EndOnce(() => EndCoreAsync(why, exitCode, message));

    /// <summary>A deploy that failed: its pieces are undone and its agent destroyed at once, without events
    /// (nobody was told it ran). Does nothing more if an end already began.</summary>
    public Task AbandonAsync() => EndOnce(async () =>
    {
        Uncount("abandoned");
        await _watching.CancelAsync().ConfigureAwait(false);
        await StopFunctionAsync().ConfigureAwait(false);
        await _calls.CancelAsync().ConfigureAwait(false);
        await Agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false);
    });

    /// <summary>Forwards an event of its agent (0.2 forwards only events of agents that run a workload); the agent's
    /// own <c>workload_undeployed</c> ends the workload with the code it reports.</summary>
    public async ValueTask OnAgentEventAsync(CloudEvent cloudEvent)
    {
        var forwarded = cloudEvent with { Source = EventSource(_context.Node.NodeId), Namespace = Namespace };
        if (cloudEvent.Type == EventTypes.WorkloadUndeployed)
        {
            if (IsEnding)
            {
                return; // the node already reports this end itself
            }

            await _context.Events.PublishAsync(Namespace, forwarded).ConfigureAwait(false);
            var code = 0;
            try
            {
                code = cloudEvent.GetData(NexJson.Context.WorkloadUndeployedEvent)?.Code ?? 0;
            }
            catch (JsonException)
            {
                // A malformed code counts as a clean exit.
            }

            // Not awaited here: the end destroys the agent's link, whose read loop is running this.
            _ = Task.Run(() => EndAsync(WorkloadEnd.Exited, code, null));
            return;
        }

        await _context.Events.PublishAsync(Namespace, forwarded).ConfigureAwait(false);
    }

    /// <summary>Publishes a log line of its agent.</summary>
    public ValueTask OnAgentLogAsync(AgentLogEntry entry) =>
        _context.Events.PublishLogAsync(Namespace, Name, Id, LogLevels.FromAgentLevel(entry.Level ?? 0), entry.Text ?? "");

    private Task EndOnce(Func<Task> end)
    {
        lock (_gate)
        {
            if (_ending is null)
            {
                _ending = end();
                _ = FinishAsync(_ending);
            }

            return _ending;
        }
    }

    private async Task EndCoreAsync(WorkloadEnd why, int exitCode, string? message)
    {
        _owner.OnEnding(this);
        Uncount(EndReason(why));
        await _watching.CancelAsync().ConfigureAwait(false);
        await StopFunctionAsync().ConfigureAwait(false); // triggers first (spec §4.9 step 3)
        if (why is WorkloadEnd.Stopped or WorkloadEnd.NodeShutdown or WorkloadEnd.Moved)
        {
            try
            {
                await Agent.Link.UndeployAsync(UndeployTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AgentRequestException ex)
            {
                LogUndeployFailed(_context.Logger, Id, ex.Message);
            }
        }

        await _calls.CancelAsync().ConfigureAwait(false);
        await Agent.DestroyAsync(AgentStopGrace).ConfigureAwait(false);
        if (why != WorkloadEnd.Exited)
        {
            var reason = why switch
            {
                WorkloadEnd.Stopped => "Workload shutdown requested",
                WorkloadEnd.NodeShutdown => "Node shutting down",
                WorkloadEnd.Moved => "Workload moved to another node",
                _ => message ?? "Agent lost",
            };
            await _context.Events.PublishAsync(
                Namespace,
                EventTypes.WorkloadUndeployed,
                new WorkloadUndeployedEvent
                {
                    WorkloadName = Name,
                    Code = exitCode,
                    Message = $"{reason}: {Name}; vm: {Id}",
                    Name = Name,
                    Reason = reason,
                    Vmid = Id,
                },
                NexJson.Context.WorkloadUndeployedEvent).ConfigureAwait(false);
        }

        LogEnded(_context.Logger, Name, Id, why, exitCode);
        var node = _context.Node;
        if (_context.RestartPolicy.FailuresToRestart(why, exitCode, Essential, node.IsLameDuck, _context.NodeStopping.IsCancellationRequested, node.Time.GetUtcNow() - DeployedAt, ConsecutiveFailures) is { } failures)
        {
            _owner.OnRestartWanted(Deploy, failures);
        }
        else if (why == WorkloadEnd.Stopped || (why != WorkloadEnd.NodeShutdown && !_context.NodeStopping.IsCancellationRequested))
        {
            // A node shutdown keeps it desired: the node (same identity) runs it again when it comes back.
            await _owner.OnGoneAsync(this).ConfigureAwait(false);
        }
    }

    private async Task WatchAsync()
    {
        var lost = await _context.Watchdog.WatchAsync(Agent.Exited, Agent.Link.PingAsync, _watching.Token).ConfigureAwait(false);
        if (lost is not null)
        {
            await EndAsync(WorkloadEnd.AgentLost, -1, lost).ConfigureAwait(false);
        }
    }

    private async Task FinishAsync(Task ending)
    {
        // Whatever failed was seen by whoever awaited the end; this only says when all is done. (The relays in
        // flight are known only once the end has stopped the triggers.)
        await ending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task watchdog;
        lock (_gate)
        {
            watchdog = _watchdog; // no longer changes: the end began
        }

        await watchdog.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await TriggersStopped.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _watching.Dispose();
        _calls.Dispose();
        _done.TrySetResult();
    }

    [LoggerMessage(EventId = 810, Level = LogLevel.Information, Message = "Workload {Name} ({Id}) ended: {Why}, code {Code}")]
    private static partial void LogEnded(ILogger logger, string name, string id, WorkloadEnd why, int code);

    [LoggerMessage(EventId = 811, Level = LogLevel.Warning, Message = "Agent {Id} did not confirm the undeploy: {Reason}; stopping it by force")]
    private static partial void LogUndeployFailed(ILogger logger, string id, string reason);
}
