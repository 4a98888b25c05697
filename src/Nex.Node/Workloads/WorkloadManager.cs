using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Agents;
using Nex.Node.Events;
using Nex.Node.Fleet;
using Nex.Node.Machines;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>
/// The node's workloads: a registry of the running ones (and the recently ended, for their late events), the
/// deploy orchestration (spec §1.8.2 steps 11–16), STOP (§1.9) and essential restarts (§4.10). Each workload is a
/// <see cref="RunningWorkload"/> that owns its agent, triggers, host services, watchdog and end; agents' events,
/// logs and host-service calls are routed to it by agent id.
/// </summary>
internal sealed partial class WorkloadManager : IWorkloadManager, IAgentListener, IWorkloadOwner, IDrainTarget
{
    private static readonly TimeSpan RecentlyEndedKept = TimeSpan.FromSeconds(30);

    // How long a recorded workload's node has to answer PING before its record counts as running nowhere.
    private static readonly TimeSpan RecordedNodePingTimeout = TimeSpan.FromSeconds(1);

    private const string NoSuchWorkload = "No such workload";

    /// <summary>How long after an internal server restart a silent agent is not yet counted as lost.</summary>
    internal static readonly TimeSpan AgentReconnectGrace = AgentWatchdog.ReconnectGrace;

    private readonly NodeState _node;
    private readonly AgentPool _pool;
    private readonly ArtifactLoader _artifacts;
    private readonly string? _workloadNatsUrl;
    private readonly HostServices.HostHttpClient _http;
    private readonly ILogger _logger;
    private readonly WorkloadContext _context;
    private readonly EssentialRestarts _restarts;
    private readonly WorkloadUsage _usage;
    private readonly ConcurrentDictionary<string, RunningWorkload> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (RunningWorkload Workload, DateTimeOffset EndedAt)> _recentlyEnded = new(StringComparer.Ordinal);

    // Every workload made and not yet done (running, ending, or abandoned): disposal waits for them.
    private readonly ConcurrentDictionary<RunningWorkload, byte> _live = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly StopTokenLedger _stopTokens;

    // This node's desired-state records: key → the record as last written and its revision (for compare-and-set).
    private readonly ConcurrentDictionary<string, DesiredEntry> _records = new(StringComparer.Ordinal);

    // Keys of workloads stopped (or moved elsewhere) while no copy ran here, e.g. during an essential restart's
    // backoff: that restart must not bring them back.
    private readonly ConcurrentDictionary<string, byte> _abandoned = new(StringComparer.Ordinal);

    // The drain of a lame-duck node, once begun (disposal waits for it before it stops what is left).
    private Task _drain = Task.CompletedTask;
    private int _draining;

    public WorkloadManager(NodeState node, Func<IAgentListener, AgentPool> createPool, INatsConnection mainNats, EventPublisher events, string? workloadNatsUrl, ILoggerFactory loggers, DesiredStateStore? desired = null)
    {
        _node = node;
        Desired = desired ?? DesiredStateStore.None(loggers.CreateLogger<DesiredStateStore>());
        _stopTokens = new StopTokenLedger(node.Time);
        _pool = createPool(this);
        _artifacts = new ArtifactLoader(new ArtifactFetcher(mainNats), node.Config.NodeLimits, () => _running.Values.Sum(w => w.Bytes));
        _http = HostServices.HostHttpClient.From(node.Config.HostServices);
        _workloadNatsUrl = workloadNatsUrl;
        _logger = loggers.CreateLogger<WorkloadManager>();
        var policy = new EssentialRestartPolicy(node.Config.EssentialRestart);
        _context = new WorkloadContext(
            node,
            events,
            mainNats,
            _http,
            loggers,
            _logger,
            new AgentWatchdog(node.Time, AgentWatchdog.DefaultPingInterval, TimeSpan.FromMilliseconds(node.Config.AgentPingTimeoutMs), () => node.InternalNatsHealth),
            policy,
            _stopping.Token);
        _restarts = new EssentialRestarts(node.Time, policy, () => node.IsLameDuck, RedeployAsync, _logger, _stopping.Token, stillWanted: d => d.DesiredKey is not { } key || !_abandoned.ContainsKey(key));
        _usage = new WorkloadUsage(node.Time, () => _running.Values);
        Validator = new DeployValidator(node, () => _running.Count);
        node.Metrics.WarmAgents = () => _pool.WarmCount;
        node.Metrics.WorkloadUsage = ObserveUsage;
    }

    // For the per-workload gauges, read only when metrics are collected.
    private List<Telemetry.WorkloadUsageSample> ObserveUsage()
    {
        var usage = _usage.Read();
        return [.. _running.Values
            .Where(w => usage.ContainsKey(w.Id))
            .Select(w => new Telemetry.WorkloadUsageSample(w.Namespace, w.Name, w.Id, usage[w.Id].MemoryBytes, usage[w.Id].CpuTime.TotalSeconds))];
    }

    /// <summary>Why agents keep failing to start, while they do (INFO shows it); else null.</summary>
    public string? AgentStartFailure => _pool.StartFailure;

    /// <summary>Hand-shaken agents waiting in the pool.</summary>
    public int WarmAgents => _pool.WarmCount;

    /// <summary>Why deploys are not recorded as desired state, or null when they are.</summary>
    public string? DesiredStateProblem => Desired.Unavailable;

    /// <summary>Starts filling the warm pool.</summary>
    public void Start() => _pool.Start();

    /// <summary>Where the node records which workloads should be running (JetStream KV), or why it cannot.</summary>
    public DesiredStateStore Desired { get; }

    /// <summary>The validation pipeline every deploy goes through.</summary>
    public DeployValidator Validator { get; }

    public IReadOnlyList<WorkloadSnapshot> Running => [.. _running.Values.Select(w => w.Snapshot())];

    public int RunningCount => _running.Count;

    public IReadOnlyDictionary<string, MachineUsage> ReadUsage() => _usage.Read();

    public async Task<StopResponse> StopAsync(string ns, StopRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.WorkloadId))
        {
            throw new ControlRejectedException(NoSuchWorkload);
        }

        if (!_running.TryGetValue(request.WorkloadId, out var workload))
        {
            return await StopRecordedAsync(ns, request, cancellationToken).ConfigureAwait(false);
        }

        var stopClaims = DecodeStopClaims(request);
        if (StopRule.Check(workload.Claims, stopClaims, _node.Time.GetUtcNow()) is { } reason)
        {
            throw new ControlRejectedException($"Invalid stop request: {reason}");
        }

        // Same answer as an unknown id, to hide whether it exists (spec §1.9 step 5).
        if (!string.Equals(workload.Namespace, ns, StringComparison.Ordinal))
        {
            throw new ControlRejectedException(NoSuchWorkload);
        }

        // Last, so only a token that really stops something is spent (and a refused one can be corrected).
        if (!_stopTokens.TryConsume(stopClaims))
        {
            throw new ControlRejectedException($"Invalid stop request: {StopRule.ReusedClaims}");
        }

        await workload.EndAsync(WorkloadEnd.Stopped, exitCode: 0, message: null).ConfigureAwait(false);
        return new StopResponse { Stopped = true, Id = workload.Id, Issuer = workload.Claims.Iss, Name = workload.Name };
    }

    /// <summary>
    /// A STOP of a workload that does not run here but is recorded in the desired state and runs nowhere (its node
    /// died and it waits for another, or a drain handed it over): the stop rule is checked against the record's
    /// deploy JWT, the token is spent as for a running workload, and the record is removed at the revision read, so
    /// it is never run again. A record claimed meanwhile is not removed ("No such workload"). Which records count
    /// as running nowhere: this node's own (it is not running here), handed-off ones, and those whose node does not
    /// answer its PING; a record whose node answers is that node's to stop (the client sends the STOP there).
    /// </summary>
    private async Task<StopResponse> StopRecordedAsync(string ns, StopRequest request, CancellationToken cancellationToken)
    {
        var entry = await FindRecordAsync(ns, request.WorkloadId, cancellationToken).ConfigureAwait(false)
            ?? throw new ControlRejectedException(NoSuchWorkload);
        var record = entry.Workload;

        // Asked by its first id (the key) while it runs here under the id of a restart: stop that one.
        if (record.WorkloadId != request.WorkloadId && _running.ContainsKey(record.WorkloadId))
        {
            return await StopAsync(ns, request with { WorkloadId = record.WorkloadId }, cancellationToken).ConfigureAwait(false);
        }

        if (!await RunsNowhereAsync(record, cancellationToken).ConfigureAwait(false))
        {
            throw new ControlRejectedException(NoSuchWorkload);
        }

        var stopClaims = DecodeStopClaims(request);
        WorkloadClaims original;
        try
        {
            original = WorkloadJwt.Decode(record.Request.WorkloadJwt);
        }
        catch (NexSecurityException)
        {
            throw new ControlRejectedException(NoSuchWorkload); // a record no deploy could have written
        }

        if (StopRule.Check(original, stopClaims, _node.Time.GetUtcNow()) is { } reason)
        {
            throw new ControlRejectedException($"Invalid stop request: {reason}");
        }

        if (!_stopTokens.TryConsume(stopClaims))
        {
            throw new ControlRejectedException($"Invalid stop request: {StopRule.ReusedClaims}");
        }

        if (!await Desired.RemoveAsync(entry.Key, entry.Revision, cancellationToken).ConfigureAwait(false))
        {
            throw new ControlRejectedException(NoSuchWorkload);
        }

        _records.TryRemove(entry.Key, out _);
        _abandoned[entry.Key] = 0;
        LogRecordStopped(_logger, entry.Key, record.Name, record.NodeId);
        return new StopResponse { Stopped = true, Id = record.WorkloadId, Issuer = original.Iss, Name = record.Name };
    }

    // The record of the namespace keyed by this id (its first) or whose current id it is; null without desired state.
    private async Task<DesiredEntry?> FindRecordAsync(string ns, string workloadId, CancellationToken cancellationToken)
    {
        if (Desired.Unavailable is not null)
        {
            return null;
        }

        if (SubjectToken.NamespaceProblem(workloadId) is null
            && await Desired.GetAsync(DesiredState.Key(ns, workloadId), cancellationToken).ConfigureAwait(false) is { } keyed
            && string.Equals(keyed.Workload.Namespace, ns, StringComparison.Ordinal))
        {
            return keyed;
        }

        return (await Desired.ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(e =>
            string.Equals(e.Workload.Namespace, ns, StringComparison.Ordinal)
            && string.Equals(DesiredState.NamespaceOf(e.Key), ns, StringComparison.Ordinal)
            && string.Equals(e.Workload.WorkloadId, workloadId, StringComparison.Ordinal));
    }

    private async Task<bool> RunsNowhereAsync(DesiredWorkload record, CancellationToken cancellationToken)
    {
        if (record.Handoff || string.Equals(record.NodeId, _node.NodeId, StringComparison.Ordinal))
        {
            return true;
        }

        string subject;
        try
        {
            subject = NexSubjects.PingNode(record.NodeId);
        }
        catch (ArgumentException)
        {
            return true; // no node could have that id
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RecordedNodePingTimeout);
        try
        {
            await _context.MainNats.RequestAsync<byte[], byte[]>(subject, [], cancellationToken: timeout.Token).ConfigureAwait(false);
            return false;
        }
        catch (NatsNoRespondersException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true;
        }
    }

    private static WorkloadClaims DecodeStopClaims(StopRequest request)
    {
        try
        {
            return WorkloadJwt.Decode(request.WorkloadJwt);
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Invalid stop request: {ex.Message}");
        }
    }

    public void EnterLameDuck()
    {
        foreach (var workload in _running.Values)
        {
            workload.ClearEssential();
        }
    }

    /// <summary>Starts the drain of a lame-duck node once (<see cref="Drain"/>); it ends by asking the node to stop.</summary>
    public void BeginDrain()
    {
        if (Interlocked.Exchange(ref _draining, 1) != 0)
        {
            return;
        }

        var drain = new Drain(
            Desired,
            this,
            _node.NodeId,
            _node.Time,
            TimeSpan.FromMilliseconds(_node.Config.Fleet.DrainTimeoutMs),
            (drained, token) => _context.Events.PublishAsync(NexSubjects.SystemNamespace, EventTypes.NodeDrained, drained, NexJson.Context.NodeDrainedEvent, cancellationToken: token).AsTask(),
            _node.RequestStop,
            _context.Loggers.CreateLogger<Drain>());
        _drain = Task.Run(
            async () =>
            {
                try
                {
                    await drain.RunAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    // The node is shutting down anyway: its shutdown stops what is left.
                }
                catch (Exception ex)
                {
                    // Never lame duck forever by accident: the node's shutdown stops what is left, records kept.
                    LogDrainFailed(_logger, ex.Message);
                    _node.RequestStop();
                }
            },
            CancellationToken.None);
    }

    IReadOnlyList<DrainItem> IDrainTarget.DrainItems => [.. _running.Values.Select(w => new DrainItem(w.Id, w.Deploy.DesiredKey))];

    Task IDrainTarget.StopHereAsync(string workloadId) =>
        _running.TryGetValue(workloadId, out var workload) ? workload.EndAsync(WorkloadEnd.NodeShutdown, 0, null) : Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _drain.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_running.Values.Select(w => w.EndAsync(WorkloadEnd.NodeShutdown, 0, null))).ConfigureAwait(false);
        await _restarts.DisposeAsync().ConfigureAwait(false);

        // A deploy that was under way (a restart's, cancelled above) may have listed its workload since.
        await Task.WhenAll(_running.Values.Select(w => w.EndAsync(WorkloadEnd.NodeShutdown, 0, null))).ConfigureAwait(false);
        await Task.WhenAll(_live.Keys.Select(w => w.Completion)).ConfigureAwait(false);
        await _pool.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
        _stopping.Dispose();
    }

    public ValueTask OnAgentEventAsync(string agentId, CloudEvent cloudEvent) =>
        Find(agentId) is { } workload ? workload.OnAgentEventAsync(cloudEvent) : ValueTask.CompletedTask; // 0.2 ignores warm agents' events

    public ValueTask OnAgentLogAsync(string agentId, AgentLogEntry entry) =>
        Find(agentId) is { } workload ? workload.OnAgentLogAsync(entry) : ValueTask.CompletedTask;

    public ValueTask OnHostServiceCallAsync(string agentId, NatsMsg<byte[]> msg) =>
        _running.TryGetValue(agentId, out var workload)
            ? workload.AnswerHostServiceCallAsync(msg)
            : HostServiceCalls.AnswerAsync(services: null, msg, CancellationToken.None);

    void IWorkloadOwner.OnEnding(RunningWorkload workload)
    {
        _running.TryRemove(workload.Id, out _);
        _recentlyEnded[workload.Id] = (workload, _node.Time.GetUtcNow());
        PruneRecentlyEnded();
    }

    void IWorkloadOwner.OnRestartWanted(ValidatedDeploy deploy, int consecutiveFailures) => _restarts.Schedule(deploy, consecutiveFailures);

    Task IWorkloadOwner.OnGoneAsync(RunningWorkload workload) => ForgetAsync(workload.Deploy);

    private RunningWorkload? Find(string agentId)
    {
        if (_running.TryGetValue(agentId, out var workload))
        {
            return workload;
        }

        return _recentlyEnded.TryGetValue(agentId, out var ended) ? ended.Workload : null;
    }

    [LoggerMessage(EventId = 828, Level = LogLevel.Information, Message = "Desired state: stopped recorded workload {Name} ({Key}, node {NodeId}) that ran nowhere; record removed")]
    private static partial void LogRecordStopped(ILogger logger, string key, string name, string nodeId);

    private void PruneRecentlyEnded()
    {
        var cutoff = _node.Time.GetUtcNow() - RecentlyEndedKept;
        foreach (var (id, ended) in _recentlyEnded)
        {
            if (ended.EndedAt < cutoff)
            {
                _recentlyEnded.TryRemove(id, out _);
            }
        }
    }

    [LoggerMessage(EventId = 832, Level = LogLevel.Error, Message = "Drain failed: {Reason}; exiting, the shutdown stops what is left")]
    private static partial void LogDrainFailed(ILogger logger, string reason);
}
