using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Nex.Node.Config;
using Nex.Node.InternalNats;
using Nex.Node.Machines;
using Nex.Protocol;

namespace Nex.Node.Agents;

/// <summary>
/// The warm pool (spec §4.6): <c>machine_pool_size</c> agents started and hand-shaken ahead of
/// demand. <see cref="TakeAsync"/> hands out one specific agent (0.2 bound requests to the wrong
/// one when the pool was larger than 1, §11 #3); the pool refills in the background. A warm agent
/// that dies or stops answering pings is replaced.
/// </summary>
internal sealed partial class AgentPool : IAsyncDisposable
{
    /// <summary>Consecutive failed agent starts after which the pool counts as failing: deploys fail at once,
    /// naming the cause, INFO shows it, and an <c>agent_start_failed</c> event goes out.</summary>
    internal const int FailingAfter = 3;

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReplaceDelay = TimeSpan.FromMilliseconds(5);
    private readonly IMachineDriver _driver;
    private readonly InternalNatsServer _internalNats;
    private readonly IAgentListener _listener;
    private readonly NodeConfig _config;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Agent> _ready = Channel.CreateUnbounded<Agent>();
    private readonly SemaphoreSlim _refill = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Agent> _warm = [];
    private readonly Func<string, int, ValueTask>? _onFailing;
    private readonly Telemetry.NodeMetrics? _metrics;
    private int _failures;
    private volatile string? _lastFailure;
    private TaskCompletionSource _attemptFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _backoffCut;
    private Task _fillLoop = Task.CompletedTask;
    private Task _pingLoop = Task.CompletedTask;
    private int _takers;

    // onFailing: called (reason, failures) once per run of failed starts, when it reaches FailingAfter.
    public AgentPool(IMachineDriver driver, InternalNatsServer internalNats, IAgentListener listener, NodeConfig config, TimeProvider time, ILogger<AgentPool> logger, Func<string, int, ValueTask>? onFailing = null, Telemetry.NodeMetrics? metrics = null)
    {
        _onFailing = onFailing;
        _metrics = metrics;
        _time = time;
        _driver = driver;
        _internalNats = internalNats;
        _listener = listener;
        _config = config;
        _logger = logger;
    }

    /// <summary>Warm agents ready right now.</summary>
    public int WarmCount
    {
        get
        {
            lock (_warm)
            {
                return _warm.Count;
            }
        }
    }

    /// <summary>While agents keep failing to start (<see cref="FailingAfter"/> in a row): the last start's error; else null.</summary>
    public string? StartFailure => Volatile.Read(ref _failures) >= FailingAfter ? _lastFailure : null;

    /// <summary>How long the pool waits before the next start after <paramref name="failures"/> failed ones in a row:
    /// 100 ms, doubling, at most 30 s (pure; unit-tested).</summary>
    /// <param name="failures">Failed starts in a row (1 or more).</param>
    /// <returns>The delay.</returns>
    internal static TimeSpan Backoff(int failures) => Nex.Node.Backoff.Exponential(FirstBackoff, MaxBackoff, failures);

    public void Start()
    {
        _fillLoop = Task.Run(FillLoopAsync, CancellationToken.None);
        _pingLoop = Task.Run(PingLoopAsync, CancellationToken.None);
    }

    /// <summary>
    /// Takes a warm agent, waiting up to <paramref name="wait"/> for one; null if none came. The taker
    /// calls <see cref="Replace"/> when its deploy is done, and the pool then starts a replacement.
    /// </summary>
    /// <remarks>
    /// Starting an agent costs CPU (key pairs, a reload of the internal NATS server, a process start),
    /// and the reload briefly holds up the internal server's traffic. Done while the deploy that took
    /// the agent still ran, it made that deploy several milliseconds slower on a 2-core machine. A taker
    /// that finds the pool empty has nothing to protect: the start begins at once (at most one 5 ms
    /// pause late, if it comes while the pool pauses for an earlier deploy's reply).
    /// </remarks>
    public async Task<Agent?> TakeAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        // The wait runs on the node's clock; the linked source ends with either the caller or the pool.
        using var expiry = new CancellationTokenSource(wait, _time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token, expiry.Token);
        Interlocked.Increment(ref _takers);
        try
        {
            while (true)
            {
                if (!_ready.Reader.TryRead(out var agent))
                {
                    if (StartFailure is not null)
                    {
                        // Agents keep failing to start: try once more now rather than wait out the backoff (the
                        // host may have been fixed, or the driver changed course), and when that attempt fails
                        // too, give up at once: waiting would only hide the cause (the caller names it).
                        var failed = Volatile.Read(ref _attemptFailed).Task;
                        TryNow();
                        var ready = _ready.Reader.WaitToReadAsync(timeout.Token).AsTask();
                        if (await Task.WhenAny(ready, failed).ConfigureAwait(false) == failed)
                        {
                            if (!_ready.Reader.TryPeek(out _))
                            {
                                return null;
                            }

                            continue;
                        }

                        await ready.ConfigureAwait(false); // throws when the wait timed out
                        continue;
                    }

                    Replace();
                    agent = await _ready.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                }

                lock (_warm)
                {
                    if (!_warm.Remove(agent))
                    {
                        continue; // died while waiting; already replaced
                    }
                }

                return agent;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            Interlocked.Decrement(ref _takers);
        }
    }

    /// <summary>Lets the pool replace an agent <see cref="TakeAsync"/> handed out: call it once per taken
    /// agent, when the work that took it is done (or failed). Extra calls are harmless.</summary>
    public void Replace()
    {
        try
        {
            // One pending wake-up is enough: the fill loop refills up to the pool size each time it
            // wakes. Piled-up ones would wake it later for nothing, possibly during another deploy.
            if (_refill.CurrentCount == 0)
            {
                _refill.Release();
            }
        }
        catch (ObjectDisposedException)
        {
            // The pool is gone: nothing to refill.
        }
    }

    // Cuts the fill loop's backoff short, so the next start begins now.
    private void TryNow()
    {
        try
        {
            Volatile.Read(ref _backoffCut)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The backoff just ended by itself: the next start begins anyway.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_fillLoop, _pingLoop).ConfigureAwait(false);
        Agent[] warm;
        lock (_warm)
        {
            warm = [.. _warm];
            _warm.Clear();
        }

        await Task.WhenAll(warm.Select(a => a.DestroyAsync(TimeSpan.FromSeconds(2)))).ConfigureAwait(false);

        // The pool owns the driver: the workload manager ended every live machine before disposing us.
        await _driver.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _refill.Dispose();
    }

    private async Task FillLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            if (WarmCount >= _config.MachinePoolSize)
            {
                try
                {
                    await _refill.WaitAsync(_stopping.Token).ConfigureAwait(false);

                    // Let the deploy that just finished send its reply first, unless a deploy waits.
                    if (Volatile.Read(ref _takers) == 0)
                    {
                        await Task.Delay(ReplaceDelay, _time, _stopping.Token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            try
            {
                var agent = await StartAgentAsync(null, _stopping.Token).ConfigureAwait(false);
                lock (_warm)
                {
                    _warm.Add(agent);
                }

                _ready.Writer.TryWrite(agent);
                if (Interlocked.Exchange(ref _failures, 0) >= FailingAfter)
                {
                    LogAgentStartRecovered(_logger);
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Not a hot loop: a start that fails for a reason of the host (an unreachable rootfs, a
                // broken agent) fails the same way next time. Back off, and say why once it is a pattern.
                _lastFailure = ex.Message.ReplaceLineEndings(" ");
                var failures = Interlocked.Increment(ref _failures);
                LogAgentStartFailed(_logger, _lastFailure);
                if (failures == FailingAfter)
                {
                    LogAgentStartsFailing(_logger, failures, _lastFailure);
                    if (_onFailing is not null)
                    {
                        await _onFailing(_lastFailure, failures).ConfigureAwait(false);
                    }
                }

                Interlocked.Exchange(ref _attemptFailed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                using var cut = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                Volatile.Write(ref _backoffCut, cut);
                try
                {
                    await Task.Delay(Backoff(failures), _time, cut.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
                {
                    // A deploy asked to try now (TryNow).
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                finally
                {
                    Volatile.Write(ref _backoffCut, null);
                }
            }
        }
    }

    /// <summary>How long a new agent may take to hand-shake: the config's, or longer when the driver needs it
    /// (a VM booting under software emulation).</summary>
    public TimeSpan HandshakeTimeout =>
        _driver.HandshakeTimeout is { } floor && floor > TimeSpan.FromMilliseconds(_config.AgentHandshakeTimeoutMs)
            ? floor
            : TimeSpan.FromMilliseconds(_config.AgentHandshakeTimeoutMs);

    /// <summary>Whether <see cref="StartDedicatedAsync"/> can take an OCI image root (the container driver).</summary>
    public bool SupportsImages => _driver.SupportsImages;

    /// <summary>Starts an agent outside the pool, in a machine whose root is <paramref name="imageRoot"/> (an OCI workload).</summary>
    /// <param name="imageRoot">The unpacked image.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The hand-shaken agent; its owner watches it.</returns>
    public Task<Agent> StartDedicatedAsync(string imageRoot, CancellationToken cancellationToken) => StartAgentAsync(imageRoot, cancellationToken);

    private async Task<Agent> StartAgentAsync(string? imageRoot, CancellationToken cancellationToken)
    {
        var startedAt = _time.GetTimestamp();
        try
        {
            var agent = await StartAgentCoreAsync(imageRoot, cancellationToken).ConfigureAwait(false);
            _metrics?.AgentStarted(_time.GetElapsedTime(startedAt));
            return agent;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _metrics?.AgentStartFailed();
            throw;
        }
    }

    private async Task<Agent> StartAgentCoreAsync(string? imageRoot, CancellationToken cancellationToken)
    {
        var id = Xid.NewId();
        var credentials = await _internalNats.AddWorkloadAsync(id, cancellationToken).ConfigureAwait(false);
        AgentLink? link = null;
        IMachine machine;
        try
        {
            link = await AgentLink.OpenAsync(_internalNats, id, credentials, _listener, _logger, cancellationToken).ConfigureAwait(false);
            machine = await _driver.StartAsync(new MachineSpec(id, InternalNatsServer.Host, _internalNats.Port, credentials.AgentSeed, _config.MachineTemplate, imageRoot), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (link is not null)
            {
                await link.DisposeAsync().ConfigureAwait(false);
            }

            await _internalNats.RemoveWorkloadAsync(id, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        var agent = new Agent(id, machine, link, _internalNats);
        var timeout = HandshakeTimeout;
        var handshake = link.Handshake;
        var first = await Task.WhenAny(handshake, machine.Exited, Task.Delay(timeout, _time, cancellationToken)).ConfigureAwait(false);
        if (first != handshake || !handshake.IsCompletedSuccessfully)
        {
            await agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new InvalidOperationException(first == machine.Exited
                ? $"agent {id} exited before its handshake{(machine.LastError is { } last ? ": " + last : "")}"
                : $"agent {id} did not hand-shake within {timeout.TotalMilliseconds:0}ms");
        }

        // One ping before the agent counts as warm: it proves the agent answers, and it sets up the
        // link's request/reply inbox now, so the deploy that takes this agent does not pay for it.
        if (!await link.PingAsync(TimeSpan.FromMilliseconds(_config.AgentPingTimeoutMs), cancellationToken).ConfigureAwait(false))
        {
            await agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new InvalidOperationException($"agent {id} did not answer its first ping");
        }

        if (imageRoot is null)
        {
            _ = WatchWarmAgentAsync(agent);
            LogAgentReady(_logger, id);
        }

        return agent;
    }

    // A warm agent that dies is replaced; once taken, its new owner watches it.
    private async Task WatchWarmAgentAsync(Agent agent)
    {
        await agent.Exited.ConfigureAwait(false);
        bool wasWarm;
        lock (_warm)
        {
            wasWarm = _warm.Remove(agent);
        }

        if (wasWarm && !_stopping.IsCancellationRequested)
        {
            LogWarmAgentDied(_logger, agent.Id);
            await agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false);
            _refill.Release();
        }
    }

    private async Task PingLoopAsync()
    {
        var timeout = TimeSpan.FromMilliseconds(_config.AgentPingTimeoutMs);
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                await Task.Delay(PingInterval, _time, _stopping.Token).ConfigureAwait(false);
                Agent[] warm;
                lock (_warm)
                {
                    warm = [.. _warm];
                }

                foreach (var agent in warm)
                {
                    // While the internal server is down or just back, silence is not the agent's fault.
                    if (!_internalNats.Health.UpFor(Workloads.WorkloadManager.AgentReconnectGrace, _time.GetUtcNow()))
                    {
                        break;
                    }

                    if (!await agent.Link.PingAsync(timeout, _stopping.Token).ConfigureAwait(false)
                        && _internalNats.Health.UpFor(Workloads.WorkloadManager.AgentReconnectGrace, _time.GetUtcNow()))
                    {
                        bool stillWarm;
                        lock (_warm)
                        {
                            stillWarm = _warm.Contains(agent);
                        }

                        if (stillWarm)
                        {
                            LogWarmAgentUnresponsive(_logger, agent.Id);
                            await agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false); // the exit watcher replaces it
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Warning, Message = "Could not start a warm agent: {Reason}")]
    private static partial void LogAgentStartFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 704, Level = LogLevel.Error, Message = "No agent could be started ({Failures} attempts in a row); deploys fail until one does: {Reason}")]
    private static partial void LogAgentStartsFailing(ILogger logger, int failures, string reason);

    [LoggerMessage(EventId = 705, Level = LogLevel.Information, Message = "Agents start again")]
    private static partial void LogAgentStartRecovered(ILogger logger);

    [LoggerMessage(EventId = 701, Level = LogLevel.Debug, Message = "Agent {Id} is warm")]
    private static partial void LogAgentReady(ILogger logger, string id);

    [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "Warm agent {Id} died; replacing it")]
    private static partial void LogWarmAgentDied(ILogger logger, string id);

    [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "Warm agent {Id} stopped answering pings; replacing it")]
    private static partial void LogWarmAgentUnresponsive(ILogger logger, string id);
}
