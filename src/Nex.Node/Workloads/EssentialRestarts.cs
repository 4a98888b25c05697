using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>
/// Restarts essential workloads after their backoff, on the node's clock: each restart is the original request
/// replayed through the same checks as any deploy; a refused one is tried again after a longer wait. Lame duck and
/// the node's stopping token stop them; disposal waits for the restarts under way.
/// </summary>
internal sealed partial class EssentialRestarts : IAsyncDisposable
{
    private readonly TimeProvider _time;
    private readonly EssentialRestartPolicy _policy;
    private readonly Func<bool> _isLameDuck;
    private readonly Func<ValidatedDeploy, int, CancellationToken, Task<RunResponse>> _redeploy;
    private readonly Func<ValidatedDeploy, bool> _stillWanted;
    private readonly Func<double> _random;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;
    private readonly ConcurrentDictionary<long, Task> _pending = new();
    private long _nextId;

    /// <param name="time">The node's clock: the backoff waits on it.</param>
    /// <param name="policy">The backoff.</param>
    /// <param name="isLameDuck">True once the node is in lame duck.</param>
    /// <param name="redeploy">Validates and deploys a replayed request (the previous deploy with the replayed request,
    /// its desired-state key with it; failures in a row); throws <see cref="ControlRejectedException"/> when refused.</param>
    /// <param name="logger">The workload manager's logger.</param>
    /// <param name="stopping">Cancelled when the node stops: waiting restarts are dropped, none is scheduled.</param>
    /// <param name="random">Jitter in [0, 1); cryptographic randomness by default.</param>
    /// <param name="stillWanted">Asked when the backoff is over: false drops the restart (the workload was stopped, or
    /// its record moved to another node, while it waited). Always true by default.</param>
    public EssentialRestarts(
        TimeProvider time,
        EssentialRestartPolicy policy,
        Func<bool> isLameDuck,
        Func<ValidatedDeploy, int, CancellationToken, Task<RunResponse>> redeploy,
        ILogger logger,
        CancellationToken stopping,
        Func<double>? random = null,
        Func<ValidatedDeploy, bool>? stillWanted = null)
    {
        _stillWanted = stillWanted ?? (static _ => true);
        _stopping = stopping;
        _time = time;
        _policy = policy;
        _isLameDuck = isLameDuck;
        _redeploy = redeploy;
        _logger = logger;
        _random = random ?? (static () => RandomNumberGenerator.GetInt32(1000) / 1000.0);
    }

    /// <summary>How many restarts are waiting or under way.</summary>
    public int Pending => _pending.Count;

    /// <summary>Restarts <paramref name="previous"/> after the backoff for <paramref name="consecutiveFailures"/> failures in a row.</summary>
    public void Schedule(ValidatedDeploy previous, int consecutiveFailures)
    {
        var delay = _policy.Delay(consecutiveFailures, _random());

        // The wait starts here, on the caller's thread, so that it is on the clock before this returns.
        var wait = Task.Delay(delay, _time, _stopping);
        LogRestartScheduled(_logger, previous.Claims.Sub, delay.TotalMilliseconds, consecutiveFailures);
        Track(() => RestartAsync(previous, consecutiveFailures, wait));
    }

    /// <summary>Waits for the restarts under way (cancel the stopping token first, or a waiting one waits its backoff out).</summary>
    public async ValueTask DisposeAsync()
    {
        // Again while any is left: a refused restart schedules the next one before it ends.
        while (!_pending.IsEmpty)
        {
            await Task.WhenAll(_pending.Values).ConfigureAwait(false);
        }
    }

    private async Task RestartAsync(ValidatedDeploy previous, int consecutiveFailures, Task wait)
    {
        try
        {
            await wait.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (_isLameDuck() || !_stillWanted(previous))
        {
            return;
        }

        // New id, retry_count + 1, through the same checks as any deploy.
        var replay = EssentialRestartPolicy.Replay(previous.Request, _time.GetUtcNow());
        try
        {
            var result = await _redeploy(previous with { Request = replay }, consecutiveFailures, _stopping).ConfigureAwait(false);
            LogRestarted(_logger, result.Name, result.Id, replay.RetryCount ?? 0);
        }
        catch (ControlRejectedException ex) when (!_isLameDuck() && !_stopping.IsCancellationRequested)
        {
            LogRestartFailed(_logger, previous.Claims.Sub, ex.Message);
            Schedule(previous with { Request = replay }, consecutiveFailures + 1);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    private void Track(Func<Task> work)
    {
        // Listed before it starts and unlisted before it completes, so whoever has awaited it sees it gone (a
        // continuation that unlisted it could still be running when the awaiter resumed).
        var id = Interlocked.Increment(ref _nextId);
        var run = new Task<Task>(async () =>
        {
            try
            {
                await work().ConfigureAwait(false);
            }
            finally
            {
                _pending.TryRemove(id, out _);
            }
        });
        _pending[id] = run.Unwrap();
        run.Start(TaskScheduler.Default);
    }

    [LoggerMessage(EventId = 812, Level = LogLevel.Information, Message = "Essential workload {Name} failed; restarting in {DelayMs:0} ms (failure {Failures} in a row)")]
    private static partial void LogRestartScheduled(ILogger logger, string name, double delayMs, int failures);

    [LoggerMessage(EventId = 813, Level = LogLevel.Information, Message = "Essential workload {Name} restarted as {Id} (retry {Retry})")]
    private static partial void LogRestarted(ILogger logger, string name, string id, uint retry);

    [LoggerMessage(EventId = 814, Level = LogLevel.Warning, Message = "Restart of essential workload {Name} failed: {Reason}")]
    private static partial void LogRestartFailed(ILogger logger, string name, string reason);
}
