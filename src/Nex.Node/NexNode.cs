using Microsoft.Extensions.Logging;
using Nex.Node.Agents;
using Nex.Node.ControlApi;
using Nex.Node.Events;
using Nex.Node.Fleet;
using Nex.Node.Identity;
using Nex.Node.InternalNats;
using Nex.Node.Machines;
using Nex.Node.Config;
using Nex.Node.Machines.MicroVm;
using Nex.Node.Nats;
using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node;

/// <summary>
/// A running Nex node: joined to NATS, answering the control API, publishing events.
/// <see cref="StartAsync"/> brings it up in 0.2's order (spec §4.3); <see cref="DisposeAsync"/>
/// shuts it down once, in 0.2's order (spec §4.13), and never throws.
/// </summary>
public sealed partial class NexNode : IAsyncDisposable
{
    private readonly NodeState _state;
    private readonly PidFile _pidFile;
    private readonly MainNats _nats;
    private readonly InternalNatsServer _internalNats;
    private readonly WorkloadManager _workloads;
    private readonly EventPublisher _events;
    private readonly ControlApiListener _api;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _heartbeat = Task.CompletedTask;
    private Task _autostart = Task.CompletedTask;
    private Task _health = Task.CompletedTask;
    private NodeLeases? _leases;
    private Rescheduler? _rescheduler;
    private Telemetry.NodeTelemetry? _telemetry;
    private int _disposed;

    private NexNode(NodeState state, PidFile pidFile, MainNats nats, InternalNatsServer internalNats, WorkloadManager workloads, EventPublisher events, ControlApiListener api, ILogger logger)
    {
        _state = state;
        _pidFile = pidFile;
        _nats = nats;
        _internalNats = internalNats;
        _workloads = workloads;
        _events = events;
        _api = api;
        _logger = logger;
    }

    /// <summary>The node id (public server nkey, <c>N…</c>).</summary>
    public string NodeId => _state.NodeId;

    /// <summary>The public xkey deploy requests encrypt their environment to.</summary>
    public string PublicXKey => _state.Identity.PublicXKey;

    /// <summary>The main NATS URL the node is connected to.</summary>
    public string NatsUrl => _nats.Url;

    /// <summary>The embedded server the node started, if any.</summary>
    public NatsServerProcess? EmbeddedNats => _nats.Embedded;

    /// <summary>Effective tags.</summary>
    public IReadOnlyDictionary<string, string> Tags => _state.Tags;

    /// <summary>The node's private NATS server (tests kill it).</summary>
    internal InternalNatsServer InternalNats => _internalNats;

    /// <summary>What the start-up recovery of desired workloads did (null until it finished).</summary>
    internal Recovery.Result? Recovered { get; private set; }

    /// <summary>Completes when the start-up recovery and the autostart deploys are done (tests await it).</summary>
    internal Task StartupDeploys => _autostart;

    /// <summary>The node's workloads (tests read the desired state through it).</summary>
    internal WorkloadManager Workloads => _workloads;

    /// <summary>Completes when the node has shut down.</summary>
    public Task Stopped => _stopped.Task;

    /// <summary>Completes when the node wants to be stopped: a drain (lame duck) finished. The host then disposes
    /// it (<c>nex node up</c> exits 0, as on Ctrl-C).</summary>
    public Task StopRequested => _state.StopRequested;

    /// <summary>Starts a node.</summary>
    /// <exception cref="NodeStartException">One line saying what is wrong.</exception>
    public static async Task<NexNode> StartAsync(NexNodeOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var logger = loggerFactory.CreateLogger<NexNode>();
        var config = options.Config;

        NodeIdentity identity;
        try
        {
            identity = NodeIdentity.Create(config.NodeSeedFile, config.XkeySeedFile);
        }
        catch (Nex.Security.NexSecurityException ex)
        {
            throw new NodeStartException(ex.Message, ex);
        }

        var agentCommand = AgentLocator.Find(config.BinPath);
        var pidFile = PidFile.Acquire(config.EffectivePidFilePath);
        MainNats? nats = null;
        InternalNatsServer? internalNats = null;
        WorkloadManager? workloads = null;
        Telemetry.NodeTelemetry? telemetry = null;
        NodeState? created = null;
        try
        {
            nats = await MainNats.ConnectAsync(options, logger, cancellationToken).ConfigureAwait(false);
            var jetStreamProblem = await nats.CheckJetStreamAsync(cancellationToken).ConfigureAwait(false);
            if (jetStreamProblem is not null)
            {
                LogJetStreamProblem(logger, jetStreamProblem);
            }

            // Without JetStream the node runs as 0.2 does: its workloads are not recorded (the warning above says why).
            var desiredLogger = loggerFactory.CreateLogger<DesiredStateStore>();
            var desired = jetStreamProblem is null
                ? await DesiredStateStore.OpenAsync(nats.Connection, desiredLogger, cancellationToken, options.Time).ConfigureAwait(false)
                : DesiredStateStore.Unusable("no JetStream on the main NATS", desiredLogger);

            var state = new NodeState(config, identity, options.Version, options.Nexus, options.Time);
            created = state;
            telemetry = Telemetry.NodeTelemetry.Start(config, state.Metrics, state.NodeId, state.Version, logger);
            var mainNats = nats;
            state.MainNatsDisconnects = () => mainNats.Disconnects;
            var events = new EventPublisher(nats.Connection, state, loggerFactory.CreateLogger<EventPublisher>());
            internalNats = await InternalNatsServer.StartAsync(loggerFactory.CreateLogger<InternalNatsServer>(), cancellationToken, options.Time, options.InternalNatsRestart).ConfigureAwait(false);
            var supervised = internalNats;
            state.WatchInternalNats(() => supervised.Health);
            state.Metrics.InternalNatsRestarts = () => supervised.Restarts;
            state.Metrics.InternalNatsReloads = () => supervised.Reloads;
            var driver = await CreateDriverAsync(config, options, agentCommand, nats, loggerFactory, cancellationToken).ConfigureAwait(false);
            if (driver is MicroVmMachineDriver vm)
            {
                state.SetTag("nex.microvm.accel", vm.Accelerator);
                if (config.FunctionProblem is { } functions && config.EffectiveWorkloadTypes.Any(WorkloadTypes.IsFunction))
                {
                    LogFunctionsRefused(logger, functions);
                }
            }

            var internalServer = internalNats;
            workloads = new WorkloadManager(
                state,
                listener => new AgentPool(
                    driver,
                    internalServer,
                    listener,
                    config,
                    options.Time,
                    loggerFactory.CreateLogger<AgentPool>(),
                    (reason, failures) => events.PublishAsync(
                        NexSubjects.SystemNamespace,
                        EventTypes.AgentStartFailed,
                        new AgentStartFailedEvent { NodeId = state.NodeId, Failures = failures, Reason = reason },
                        NexJson.Context.AgentStartFailedEvent),
                    state.Metrics),
                nats.Connection,
                events,
                driver.WorkloadNatsUrl(nats.Url),
                loggerFactory,
                desired);
            workloads.Start();
            state.WarmAgents = () => workloads.WarmAgents; // auction bids carry it (placement breaks ties with it)
            var api = new ControlApiListener(nats.Connection, state, workloads, workloads.Validator, events, loggerFactory.CreateLogger<ControlApiListener>());
            var node = new NexNode(state, pidFile, nats, internalNats, workloads, events, api, logger) { _telemetry = telemetry };
            await api.StartAsync(cancellationToken).ConfigureAwait(false);

            // The fleet: this node's lease, and the rescheduling and partition healing that read everyone's.
            node._leases = desired.Unavailable is null
                ? await NodeLeases.OpenAsync(nats.Connection, state, loggerFactory.CreateLogger<NodeLeases>(), cancellationToken).ConfigureAwait(false)
                : NodeLeases.None(desired.Unavailable, state, loggerFactory.CreateLogger<NodeLeases>());
            await node._leases.StartAsync(cancellationToken).ConfigureAwait(false);
            node._rescheduler = new Rescheduler(desired, node._leases, workloads, state, events, nats.Connection, loggerFactory.CreateLogger<Rescheduler>());
            node._rescheduler.Start();
            if (config.IsNoSandbox)
            {
                LogNoSandbox(logger);
            }

            await events.PublishAsync(
                NexSubjects.SystemNamespace,
                EventTypes.NodeStarted,
                new NodeStartedEvent { Version = state.Version, Id = state.NodeId, Tags = state.Tags },
                NexJson.Context.NodeStartedEvent,
                state.StartedAt,
                cancellationToken).ConfigureAwait(false);
            node._heartbeat = Task.Run(() => node.HeartbeatLoopAsync(options.HeartbeatInterval), CancellationToken.None);
            node._health = Task.Run(node.HealthLoopAsync, CancellationToken.None);
            // Recovery first (it drops this node's old autostart records), then autostart records its workloads anew.
            var autostart = config.Autostart is { Workloads.Count: > 0 } entries ? entries : null;
            var issuer = autostart is null ? null : Nex.Security.NexKeys.CreateAccount();
            node._autostart = Task.Run(
                async () =>
                {
                    try
                    {
                        node.Recovered = await Recovery.RunAsync(desired, workloads, state, events, loggerFactory.CreateLogger(typeof(Recovery).FullName!), node._stopping.Token).ConfigureAwait(false);
                        if (autostart is not null)
                        {
                            await Autostart.RunAsync(autostart, workloads, state, issuer!, logger, node._stopping.Token).ConfigureAwait(false);
                        }
                    }
                    catch (OperationCanceledException) when (node._stopping.IsCancellationRequested)
                    {
                        // Stopped while still starting (Ctrl-C right after start): the records stay for the next start.
                    }
                },
                CancellationToken.None);

            var nodeName = config.Tags.GetValueOrDefault("node_name") ?? "";
            LogStarted(logger, state.NodeId, nodeName, nats.Url, state.Identity.PublicXKey, state.Version);
            return node;
        }
        catch
        {
            if (workloads is not null)
            {
                await workloads.DisposeAsync().ConfigureAwait(false);
            }

            if (internalNats is not null)
            {
                await internalNats.DisposeAsync().ConfigureAwait(false);
            }

            if (nats is not null)
            {
                await nats.DisposeAsync().ConfigureAwait(false);
            }

            telemetry?.Dispose();
            created?.Metrics.Dispose();
            pidFile.Dispose();
            throw;
        }
    }

    /// <summary>Shuts the node down (spec §4.13): API, workloads, <c>node_stopped</c>, NATS, PID file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await Stopped.ConfigureAwait(false);
            return;
        }

        LogStopping(_logger);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Step(() => _rescheduler?.DisposeAsync().AsTask() ?? Task.CompletedTask).ConfigureAwait(false);
        await Step(() => _leases?.DisposeAsync().AsTask() ?? Task.CompletedTask).ConfigureAwait(false);
        await Step(() => _heartbeat).ConfigureAwait(false);
        await Step(() => _autostart).ConfigureAwait(false);
        await Step(() => _health).ConfigureAwait(false);
        await Step(() => _api.DisposeAsync().AsTask()).ConfigureAwait(false);
        await Step(() => _workloads.DisposeAsync().AsTask()).ConfigureAwait(false);
        await Step(() => _internalNats.DisposeAsync().AsTask()).ConfigureAwait(false);
        await Step(async () =>
        {
            await _events.PublishAsync(
                NexSubjects.SystemNamespace,
                EventTypes.NodeStopped,
                new NodeStoppedEvent { Id = _state.NodeId, Graceful = true },
                NexJson.Context.NodeStoppedEvent).ConfigureAwait(false);
            await _nats.Connection.PingAsync().ConfigureAwait(false); // flush before closing
        }).ConfigureAwait(false);
        await Step(() => _nats.DisposeAsync().AsTask()).ConfigureAwait(false);

        // Last, so the final export sees the workloads' ends.
        await Step(() => Task.Run(() => _telemetry?.Dispose())).ConfigureAwait(false);
        _state.Metrics.Dispose();
        _pidFile.Dispose();
        _stopping.Dispose();
        LogStopped(_logger);
        _stopped.TrySetResult();
    }

    private async Task Step(Func<Task> step)
    {
        try
        {
            await step().WaitAsync(TimeSpan.FromSeconds(15), _state.Time).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogShutdownStepFailed(_logger, ex.Message);
        }
    }

    private async Task HeartbeatLoopAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval, _state.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                await _events.PublishAsync(
                    NexSubjects.SystemNamespace,
                    EventTypes.Heartbeat,
                    new HeartbeatEvent
                    {
                        Version = _state.Version,
                        NodeId = _state.NodeId,
                        Nexus = _state.Nexus,
                        Uptime = _state.Uptime,
                        Tags = _state.Tags,
                        RunningMachines = _workloads.RunningCount,
                        Unhealthy = _state.Unhealthy,
                    },
                    NexJson.Context.HeartbeatEvent,
                    cancellationToken: _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    // Reports each change of the internal server's health as an event (the supervisor restarts it).
    private async Task HealthLoopAsync()
    {
        try
        {
            await foreach (var health in _internalNats.HealthChanges.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                if (health.IsUp)
                {
                    LogHealthy(_logger);
                }
                else
                {
                    LogUnhealthy(_logger, health.Reason ?? "");
                }

                await _events.PublishAsync(
                    NexSubjects.SystemNamespace,
                    health.IsUp ? EventTypes.NodeHealthy : EventTypes.NodeUnhealthy,
                    new NodeHealthEvent { Id = _state.NodeId, Healthy = health.IsUp, Reason = health.Reason },
                    NexJson.Context.NodeHealthEvent,
                    health.Since,
                    _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static async Task<IMachineDriver> CreateDriverAsync(NodeConfig config, NexNodeOptions options, AgentCommand agent, MainNats nats, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var workloadNats = config.SandboxWorkloadNats ? nats.Endpoints : null;

        // The loader refuses unknown names; a config built in code with one runs agents as processes, as it always did.
        var driver = SandboxDrivers.Find(config.EffectiveSandbox) ?? SandboxDrivers.None;
        return await driver.CreateAsync(new SandboxDriverContext(config, options, agent, workloadNats, loggers), cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Node {NodeId} ({Name}) is up on {Url}; xkey {XKey}; version {Version}")]
    private static partial void LogStarted(ILogger logger, string nodeId, string name, string url, string xkey, string version);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "Function deploys will be refused: {Problem}")]
    private static partial void LogFunctionsRefused(ILogger logger, string problem);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "{Problem}")]
    private static partial void LogJetStreamProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Running WITHOUT a sandbox: workloads run as plain processes of this user. Do not run untrusted workloads in this mode.")]
    private static partial void LogNoSandbox(ILogger logger);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Node stopping")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Node stopped")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(EventId = 7, Level = LogLevel.Error, Message = "Node unhealthy: {Reason}")]
    private static partial void LogUnhealthy(ILogger logger, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Node healthy again: the internal NATS server is back")]
    private static partial void LogHealthy(ILogger logger);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Shutdown step failed: {Reason}")]
    private static partial void LogShutdownStepFailed(ILogger logger, string reason);
}
