using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Nex.Node.Config;
using Nex.Node.Workloads;
using Nex.Protocol;
using Nex.Security;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>Essential restarts on a fake clock: the backoff is the node's time, not a sleep.</summary>
public sealed class EssentialRestartsTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly Channel<(DeployRequest Request, int Failures)> _redeploys = Channel.CreateUnbounded<(DeployRequest, int)>();
    private readonly ScheduledLog _log = new();
    private bool _lameDuck;
    private bool _wanted = true;
    private int _refusals;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Restart_WaitsOutItsBackoff_OnTheNodeClock_ThenReplaysTheRequest()
    {
        using var stopping = new CancellationTokenSource();
        var restarts = Create(stopping.Token);
        await using (restarts.ConfigureAwait(false))
        {
            restarts.Schedule(Deploy(), consecutiveFailures: 1);

            _time.Advance(Initial - TimeSpan.FromMilliseconds(1));
            Assert.False(_redeploys.Reader.TryRead(out _));
            _time.Advance(TimeSpan.FromMilliseconds(1));
            var (request, failures) = await _redeploys.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);

            Assert.Equal(1, failures);
            Assert.Equal(1u, request.RetryCount);
            Assert.Equal(_time.GetUtcNow(), request.RetriedAt);
        }
    }

    [Fact]
    public async Task ARefusedRestart_IsTriedAgain_AfterALongerWait_WithOneMoreFailure()
    {
        using var stopping = new CancellationTokenSource();
        _refusals = 1;
        var restarts = Create(stopping.Token);
        await using (restarts.ConfigureAwait(false))
        {
            restarts.Schedule(Deploy(), consecutiveFailures: 1);
            await _log.NextAsync().WaitAsync(Wait, Ct); // the first is on the clock
            _time.Advance(Initial);
            Assert.Equal(1, (await _redeploys.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).Failures);

            await _log.NextAsync().WaitAsync(Wait, Ct); // the second is on the clock
            _time.Advance((2 * Initial) - TimeSpan.FromMilliseconds(1));
            Assert.False(_redeploys.Reader.TryRead(out _));
            _time.Advance(TimeSpan.FromMilliseconds(1));
            var (request, failures) = await _redeploys.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);

            Assert.Equal(2, failures);
            Assert.Equal(2u, request.RetryCount);
        }
    }

    [Fact]
    public async Task LameDuck_DuringTheBackoff_MeansNoRestart()
    {
        using var stopping = new CancellationTokenSource();
        var restarts = Create(stopping.Token);
        restarts.Schedule(Deploy(), consecutiveFailures: 1);
        _lameDuck = true;
        _time.Advance(Initial);

        await restarts.DisposeAsync().AsTask().WaitAsync(Wait, Ct);
        Assert.Equal(0, restarts.Pending);
        Assert.False(_redeploys.Reader.TryRead(out _));
    }

    [Fact]
    public async Task StoppedDuringTheBackoff_MeansNoRestart()
    {
        // A STOP of its record (or a claim of it by another node) while the restart waits: it must not come back.
        using var stopping = new CancellationTokenSource();
        var restarts = Create(stopping.Token);
        restarts.Schedule(Deploy(), consecutiveFailures: 1);
        _wanted = false;
        _time.Advance(Initial);

        await restarts.DisposeAsync().AsTask().WaitAsync(Wait, Ct);
        Assert.Equal(0, restarts.Pending);
        Assert.False(_redeploys.Reader.TryRead(out _));
    }

    [Fact]
    public async Task OnceDisposed_NoRestartIsCountedAsPending()
    {
        // Disposal used to wait for the restart itself and not for its removal from the list, which ran after it:
        // a restart that had just ended could still be counted. Many short rounds open that window.
        _wanted = false;
        for (var round = 0; round < 10_000; round++)
        {
            using var stopping = new CancellationTokenSource();
            var restarts = Create(stopping.Token);
            restarts.Schedule(Deploy(), consecutiveFailures: 1);
            _time.Advance(Initial);

            await restarts.DisposeAsync().AsTask().WaitAsync(Wait, Ct);
            Assert.Equal(0, restarts.Pending);
        }
    }

    [Fact]
    public async Task NodeStopping_DropsAWaitingRestart()
    {
        using var stopping = new CancellationTokenSource();
        var restarts = Create(stopping.Token);
        restarts.Schedule(Deploy(), consecutiveFailures: 1);
        await stopping.CancelAsync();

        await restarts.DisposeAsync().AsTask().WaitAsync(Wait, Ct); // without the clock moving
        Assert.False(_redeploys.Reader.TryRead(out _));
    }

    private static ValidatedDeploy Deploy() =>
        new("default", new DeployRequest { Type = "native", Essential = true }, new WorkloadClaims { Sub = "essential" }, new Dictionary<string, string>());

    private EssentialRestarts Create(CancellationToken stopping) => new(
        _time,
        new EssentialRestartPolicy(new EssentialRestartConfig { InitialBackoffMs = (int)Initial.TotalMilliseconds }),
        () => _lameDuck,
        async (replay, failures, ct) =>
        {
            await _redeploys.Writer.WriteAsync((replay.Request, failures), ct);
            return Interlocked.Decrement(ref _refusals) >= 0
                ? throw new ControlRejectedException("Failed to get agent client from pool: no available agent client in pool")
                : new RunResponse { Started = true, Id = "new", Name = "essential" };
        },
        _log,
        stopping,
        random: static () => 0.5, // no jitter
        stillWanted: _ => _wanted);

    /// <summary>Signals each "restart scheduled" line: the restart's wait is on the clock by then.</summary>
    private sealed class ScheduledLog : ILogger
    {
        private readonly Channel<bool> _scheduled = Channel.CreateUnbounded<bool>();

        public Task<bool> NextAsync() => _scheduled.Reader.ReadAsync().AsTask();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 812)
            {
                _scheduled.Writer.TryWrite(true);
            }
        }
    }
}
