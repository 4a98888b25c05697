using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Nats;
using Nex.Protocol;

namespace Nex.Agent;

/// <summary>
/// The agent (spec §5.6): connects to the node's internal NATS as its workload user, subscribes its
/// <c>agentint.&lt;id&gt;.*</c> subjects, handshakes, then runs at most one workload until it is told to
/// stop, is signalled, or loses the node.
/// </summary>
internal sealed partial class NexAgent : IAsyncDisposable
{
    private static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ConnectRetryDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan HandshakeAttemptTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan HandshakeRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan HandshakeDeadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    private readonly AgentSettings _settings;
    private readonly IWorkloadProviderFactory _providers;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<string> _lostNode = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NatsEndpoints _endpoints;
    private readonly Lock _watchdogLock = new();
    private NatsConnection? _connection;
    private AgentPublisher? _publisher;
    private ActiveWorkload? _workload;
    private bool _deployAccepted;
    private ITimer? _disconnectTimer;

    /// <summary>Creates an agent; nothing happens until <see cref="RunAsync"/>.</summary>
    /// <param name="settings">Who and where.</param>
    /// <param name="providers">Builds the workload provider for a deploy.</param>
    /// <param name="loggers">The agent's own diagnostics.</param>
    /// <param name="time">Clock.</param>
    public NexAgent(AgentSettings settings, IWorkloadProviderFactory providers, ILoggerFactory loggers, TimeProvider time)
    {
        _settings = settings;
        _providers = providers;
        _loggers = loggers;
        _logger = loggers.CreateLogger("Nex.Agent");
        _time = time;

        // Cancelled with the agent's own stop, so an in-flight deploy aborts before the shutdown takes the gate.
        _endpoints = new NatsEndpoints(OnHandlerFailedAsync, _stopping.Token);
    }

    private AgentPublisher Publisher => _publisher ?? throw new InvalidOperationException("not connected");

    private NatsConnection Connection => _connection ?? throw new InvalidOperationException("not connected");

    /// <summary>
    /// Runs the agent until <paramref name="shutdown"/> (a signal: exit code 0) or a fatal error
    /// (no connection, no handshake, the node lost for too long: exit code 1). The workload is stopped
    /// either way.
    /// </summary>
    /// <param name="shutdown">Cancelled when the agent is told to stop.</param>
    /// <returns>The process exit code.</returns>
    public async Task<int> RunAsync(CancellationToken shutdown)
    {
        try
        {
            _connection = await ConnectAsync(shutdown).ConfigureAwait(false);
            _publisher = new AgentPublisher(_connection, _settings.WorkloadId, _time, _logger);
            _connection.ConnectionDisconnected += OnDisconnectedAsync;
            _connection.ConnectionOpened += OnConnectedAsync;

            // Listen before the handshake: the node may deploy the moment it sees us.
            // Messages of one subject are handled one at a time (like a nats.go subscription callback).
            await _endpoints.AddAsync(_connection, AgentSubjects.Deploy(_settings.WorkloadId), HandleDeployAsync, cancellationToken: _stopping.Token).ConfigureAwait(false);
            await _endpoints.AddAsync(_connection, AgentSubjects.Undeploy(_settings.WorkloadId), HandleUndeployAsync, cancellationToken: _stopping.Token).ConfigureAwait(false);
            await _endpoints.AddAsync(_connection, AgentSubjects.AgentPing(_settings.WorkloadId), HandlePingAsync, cancellationToken: _stopping.Token).ConfigureAwait(false);
            await _connection.PingAsync(shutdown).ConfigureAwait(false);

            await HandshakeAsync(shutdown).ConfigureAwait(false);
            WarmUpDeployPath();
            LogReady(_logger, _settings.WorkloadId);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            await ShutdownAsync(graceful: true).ConfigureAwait(false);
            return 0;
        }
        catch (AgentFatalException ex)
        {
            LogFatal(_logger, ex.Message);
            await ShutdownAsync(graceful: false).ConfigureAwait(false);
            return 1;
        }

        var signalled = Task.Delay(Timeout.InfiniteTimeSpan, _time, shutdown);
        var finished = await Task.WhenAny(signalled, _lostNode.Task).ConfigureAwait(false);
        if (finished == _lostNode.Task)
        {
            LogFatal(_logger, _lostNode.Task.Result);
            await ShutdownAsync(graceful: false).ConfigureAwait(false);
            return 1;
        }

        LogShuttingDown(_logger);
        await ShutdownAsync(graceful: true).ConfigureAwait(false);
        return 0;
    }

    // An agent is started ahead of its deploy, and the first use of each JSON type builds its metadata:
    // about 1 ms for the deploy request, which a warm deploy would otherwise wait for.
    private static void WarmUpDeployPath()
    {
        var sample = new AgentDeployRequest
        {
            Argv = ["-v"],
            Environment = new Dictionary<string, string> { ["A"] = "b" },
            WorkloadName = "warm-up",
            WorkloadType = WorkloadTypes.Native,
            TriggerSubjects = ["a.b"],
            RetriedAt = DateTimeOffset.UnixEpoch,
            InlineArtifact = [1, 2, 3],
            TotalBytes = 3,
        };
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(sample, NexJson.Context.AgentDeployRequest);
        _ = System.Text.Json.JsonSerializer.Deserialize(json, NexJson.Context.AgentDeployRequest);
        _ = DeployRequestValidator.RejectionMessage(sample);
        _ = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new AgentDeployResponse { Accepted = true, Message = "warm-up" }, NexJson.Context.AgentDeployResponse);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await ShutdownAsync(graceful: false).ConfigureAwait(false);
        _stopping.Dispose();
        _gate.Dispose();
    }

    private async Task<NatsConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var opts = NatsOpts.Default with
        {
            Url = _settings.NatsUrl,
            Name = $"nex-agent-{_settings.WorkloadId}",
            AuthOpts = _settings.NKeySeed is { } seed
                ? NatsAuthOpts.Default with { NKey = _settings.NKeyPublic, Seed = seed }
                : NatsAuthOpts.Default,

            // Never drop a deploy, undeploy or trigger (NATS.Net's default is DropNewest).
            SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            MaxReconnectRetry = -1,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(200),
            ReconnectWaitMax = TimeSpan.FromSeconds(1),
            ReconnectJitter = TimeSpan.FromMilliseconds(100),
            SocketConnectionFactory = _settings.NatsSocket is { } socket ? new UnixSocketConnectionFactory(socket) : null,
        };

        // The node may still be reloading its internal server's accounts when we start: retry a while.
        var deadline = _time.GetUtcNow() + ConnectDeadline;
        while (true)
        {
            var connection = new NatsConnection(opts);
            try
            {
                await connection.ConnectAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
                LogConnected(_logger, _settings.NatsSocket is { } through ? $"{_settings.NatsUrl} (through {through})" : _settings.NatsUrl);
                return connection;
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException or IOException or System.Net.Sockets.SocketException)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                if (_time.GetUtcNow() + ConnectRetryDelay > deadline)
                {
                    throw new AgentFatalException($"Failed to connect to the node's NATS at {_settings.NatsUrl}: {Innermost(ex).Message}");
                }

                LogConnectRetry(_logger, _settings.NatsUrl, Innermost(ex).Message);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            await Task.Delay(ConnectRetryDelay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var request = new HandshakeRequest { Id = _settings.WorkloadId, StartTime = _time.GetUtcNow(), Message = _settings.Message };
        var payload = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.HandshakeRequest);
        var subject = AgentSubjects.Handshake(_settings.WorkloadId);
        var deadline = _time.GetUtcNow() + HandshakeDeadline;
        while (true)
        {
            try
            {
                var reply = await Connection.RequestAsync<byte[], byte[]>(
                    subject,
                    payload,
                    replyOpts: new NatsSubOpts { Timeout = HandshakeAttemptTimeout },
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!reply.HasNoResponders)
                {
                    LogHandshake(_logger, _settings.WorkloadId);
                    return;
                }

                if (_time.GetUtcNow() + HandshakeRetryDelay > deadline)
                {
                    throw new AgentFatalException($"Failed to handshake with the node on {subject} within {HandshakeDeadline.TotalSeconds:0}s: no responders");
                }
            }
            catch (Exception ex) when (ex is NatsNoRespondersException or NatsNoReplyException or TimeoutException or NatsException)
            {
                if (_time.GetUtcNow() + HandshakeRetryDelay > deadline)
                {
                    throw new AgentFatalException($"Failed to handshake with the node on {subject} within {HandshakeDeadline.TotalSeconds:0}s: {ex.Message}");
                }
            }

            await Task.Delay(HandshakeRetryDelay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    // Keep serving: one bad message must not make the agent deaf.
    private ValueTask OnHandlerFailedAsync(NatsMsg<byte[]> msg, Exception ex)
    {
        LogHandlerFailed(_logger, msg.Subject, ex);
        return ValueTask.CompletedTask;
    }

    private ValueTask HandlePingAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken) =>
        ReplyAsync(msg, "OK"u8.ToArray(), null, cancellationToken);

    private async ValueTask ReplyAsync(NatsMsg<byte[]> msg, byte[] payload, NatsHeaders? headers, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(msg.ReplyTo))
        {
            LogNoReplySubject(_logger, msg.Subject);
            return;
        }

        await msg.ReplyAsync(payload, headers, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task ShutdownAsync(bool graceful)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        // Stop handling requests (an in-flight deploy aborts), then stop the workload: no event, the
        // node reports stops it caused itself.
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_workload is { } workload)
            {
                await StopWorkloadAsync(workload).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }

        lock (_watchdogLock)
        {
            _disconnectTimer?.Dispose();
            _disconnectTimer = null;
        }

        if (_connection is { } connection)
        {
            connection.ConnectionDisconnected -= OnDisconnectedAsync;
            connection.ConnectionOpened -= OnConnectedAsync;
            var drain = graceful && connection.ConnectionState == NatsConnectionState.Open;

            // No new messages (the handlers were cancelled with _stopping); then, on a drain, flush what we published.
            await BoundedAsync(_endpoints.DisposeAsync().AsTask()).ConfigureAwait(false);
            if (drain)
            {
                await Publisher.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }

            await BoundedAsync(connection.DisposeAsync().AsTask()).ConfigureAwait(false);
        }
    }

    // Shutdown steps that talk to a possibly dead node get a bounded wait, never an exception.
    private async Task BoundedAsync(Task step)
    {
        try
        {
            await step.WaitAsync(DrainTimeout, _time).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or NatsException or ObjectDisposedException or OperationCanceledException)
        {
            LogShutdownStepFailed(_logger, ex.Message);
        }
    }

    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        lock (_watchdogLock)
        {
            if (_disconnectTimer is null && !_stopping.IsCancellationRequested)
            {
                LogDisconnected(_logger, _settings.DisconnectGrace.TotalMilliseconds);
                _disconnectTimer = _time.CreateTimer(_ => OnDisconnectExpired(), null, _settings.DisconnectGrace, Timeout.InfiniteTimeSpan);
            }
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask OnConnectedAsync(object? sender, NatsEventArgs args)
    {
        lock (_watchdogLock)
        {
            if (_disconnectTimer is not null)
            {
                _disconnectTimer.Dispose();
                _disconnectTimer = null;
                LogReconnected(_logger);
            }
        }

        return ValueTask.CompletedTask;
    }

    private void OnDisconnectExpired()
    {
        if (_connection?.ConnectionState == NatsConnectionState.Open)
        {
            return;
        }

        // A running workload is not given up: the node restarts its NATS server on the same port and we
        // reconnect (NATS.Net retries forever). A node that is really gone takes this process with it
        // (parent-death signal, PID namespace, --die-with-parent, the VM), so nothing is left behind.
        // Checked again every grace period, so an agent whose workload has ended meanwhile still exits.
        if (Volatile.Read(ref _workload) is { StopRequested: false } workload && !workload.Provider.Completion.IsCompleted)
        {
            lock (_watchdogLock)
            {
                if (_disconnectTimer is { } timer)
                {
                    LogKeepingWorkload(_logger, _settings.DisconnectGrace.TotalMilliseconds);
                    timer.Change(_settings.DisconnectGrace, Timeout.InfiniteTimeSpan);
                }
            }

            return;
        }

        _lostNode.TrySetResult($"Lost the connection to the node for more than {_settings.DisconnectGrace.TotalSeconds:0.#}s; stopping");
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is { } inner)
        {
            ex = inner;
        }

        return ex;
    }

    /// <summary>A condition that ends the agent with exit code 1.</summary>
    private sealed class AgentFatalException(string message) : Exception(message);
}
