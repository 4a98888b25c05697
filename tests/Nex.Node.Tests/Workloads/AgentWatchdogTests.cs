using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Nex.Node.InternalNats;
using Nex.Node.Workloads;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>The watchdog's decisions on a fake clock, with a fake agent (its exit and its pings).</summary>
public sealed class AgentWatchdogTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly TaskCompletionSource _exited = new();
    private readonly Channel<TaskCompletionSource<bool>> _pings = Channel.CreateUnbounded<TaskCompletionSource<bool>>();
    private InternalNatsHealth _health;

    public AgentWatchdogTests()
    {
        // Up long enough for agents to have reconnected.
        _health = new InternalNatsHealth(InternalNatsState.Up, null, _time.GetUtcNow() - AgentWatchdog.ReconnectGrace);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AnAgentThatExits_IsLost_AtOnce()
    {
        var watch = Watch(CancellationToken.None);
        _exited.SetResult();

        Assert.Equal(AgentWatchdog.AgentExited, await watch.WaitAsync(Wait, Ct));
        Assert.False(_pings.Reader.TryPeek(out _));
    }

    [Fact]
    public async Task AnAgentThatAnswers_IsPingedEveryInterval_AndOneThatDoesNot_IsLost()
    {
        var watch = Watch(CancellationToken.None);
        _time.Advance(Interval - TimeSpan.FromMilliseconds(1));
        Assert.False(_pings.Reader.TryPeek(out _));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        (await NextPingAsync()).SetResult(true); // answered: the next interval is on the clock when this returns
        Assert.False(watch.IsCompleted);

        _time.Advance(Interval);
        (await NextPingAsync()).SetResult(false);
        Assert.Equal(AgentWatchdog.LostContact, await watch.WaitAsync(Wait, Ct));
    }

    [Fact]
    public async Task Silence_WhileTheInternalServerRestarts_OrJustAfter_IsNotLoss()
    {
        var watch = Watch(CancellationToken.None);
        _health = new InternalNatsHealth(InternalNatsState.Restarting, "restarting", _time.GetUtcNow());
        _time.Advance(Interval);
        Assert.False(_pings.Reader.TryPeek(out _)); // not even asked

        _time.Advance(TimeSpan.FromSeconds(1));
        _health = new InternalNatsHealth(InternalNatsState.Up, null, _time.GetUtcNow()); // back a second after that tick
        _time.Advance(Interval - TimeSpan.FromSeconds(1)); // the next tick: back for 4 s, inside the grace
        Assert.False(_pings.Reader.TryPeek(out _));

        _time.Advance(Interval); // past the grace: silence now counts
        (await NextPingAsync()).SetResult(false);
        Assert.Equal(AgentWatchdog.LostContact, await watch.WaitAsync(Wait, Ct));
    }

    [Fact]
    public async Task APingThatFails_AfterTheServerWentDown_IsNotLoss()
    {
        var watch = Watch(CancellationToken.None);
        _time.Advance(Interval);
        _health = new InternalNatsHealth(InternalNatsState.Restarting, "restarting", _time.GetUtcNow());
        (await NextPingAsync()).SetResult(false);

        Assert.False(watch.IsCompleted);
        _exited.SetResult();
        Assert.Equal(AgentWatchdog.AgentExited, await watch.WaitAsync(Wait, Ct));
    }

    [Fact]
    public async Task AWorkloadThatEnds_StopsItsWatch_EvenDuringAPing()
    {
        using var ending = new CancellationTokenSource();
        var watch = Watch(ending.Token);
        _time.Advance(Interval);
        await ending.CancelAsync();
        (await NextPingAsync()).SetResult(false);

        Assert.Null(await watch.WaitAsync(Wait, Ct));
    }

    [Fact]
    public async Task AWatchCancelledBetweenPings_EndsWithoutAReason()
    {
        using var ending = new CancellationTokenSource();
        var watch = Watch(ending.Token);
        await ending.CancelAsync();

        Assert.Null(await watch.WaitAsync(Wait, Ct));
        Assert.False(_pings.Reader.TryPeek(out _));
    }

    private Task<TaskCompletionSource<bool>> NextPingAsync() => _pings.Reader.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);

    private Task<string?> Watch(CancellationToken cancellationToken)
    {
        var watchdog = new AgentWatchdog(_time, Interval, TimeSpan.FromMilliseconds(750), () => _health);
        return watchdog.WatchAsync(
            _exited.Task,
            (timeout, _) =>
            {
                Assert.Equal(TimeSpan.FromMilliseconds(750), timeout);
                var ping = new TaskCompletionSource<bool>();
                _pings.Writer.TryWrite(ping);
                return ping.Task;
            },
            cancellationToken);
    }
}
