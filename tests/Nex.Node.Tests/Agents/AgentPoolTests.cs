using Microsoft.Extensions.Logging.Abstractions;
using Nex.Node.Agents;
using Nex.Node.Config;
using Nex.Node.InternalNats;
using Xunit;

namespace Nex.Node.Tests.Agents;

/// <summary>
/// The warm pool on a fake clock, with fake agents (no agent process, no node): it fills itself, refills after
/// a take on the clock, replaces an agent that dies, and gives up on a silent one when the clock says so.
/// </summary>
public sealed class AgentPoolTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly TimerRecordingTimeProvider _time = new();
    private readonly ChannelLogger<AgentPool> _log = new();
    private InternalNatsServer _internalNats = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _internalNats = await InternalNatsServer.StartAsync(NullLogger.Instance, Ct);

    public async ValueTask DisposeAsync() => await _internalNats.DisposeAsync();

    [Fact]
    public async Task ThePool_FillsToItsSize_AndRefillsATakenAgent_AfterAPauseOnTheClock()
    {
        var driver = new FakeAgentDriver(_internalNats);
        await using var pool = new AgentPool(driver, _internalNats, new NoListener(), new NodeConfig { MachinePoolSize = 2 }, _time, _log);
        pool.Start();
        await _log.NextAsync("is warm", Patience);
        await _log.NextAsync("is warm", Patience);
        await Until.TrueAsync(() => pool.WarmCount == 2, Patience, "two warm agents");
        Assert.Equal(2, driver.Starts);

        var agent = await pool.TakeAsync(Patience, Ct);
        Assert.NotNull(agent);
        Assert.Equal(1, pool.WarmCount);
        Assert.Equal(Patience, await _time.NextTimerAsync(Patience)); // the take's own deadline, on the same clock

        // The refill waits 5 ms on the node's clock (the finished deploy's reply goes first): nothing starts
        // until the clock moves.
        pool.Replace();
        Assert.Equal(TimeSpan.FromMilliseconds(5), await _time.NextTimerAsync(Patience));
        Assert.Equal(2, driver.Starts);
        _time.Advance(TimeSpan.FromMilliseconds(5));
        await _log.NextAsync("is warm", Patience);
        Assert.Equal(3, driver.Starts);
        await Until.TrueAsync(() => pool.WarmCount == 2, Patience, "two warm agents again");
        await agent.DestroyAsync(TimeSpan.Zero);
    }

    [Fact]
    public async Task AWarmAgentThatDies_IsReplaced()
    {
        var driver = new FakeAgentDriver(_internalNats);
        await using var pool = new AgentPool(driver, _internalNats, new NoListener(), new NodeConfig(), _time, _log);
        pool.Start();
        var first = await driver.NextStartAsync(Patience);
        await _log.NextAsync("is warm", Patience);
        await Until.TrueAsync(() => pool.WarmCount == 1, Patience, "the first agent to be warm");

        await first.CrashAsync();
        Assert.Contains(first.Id, await _log.NextAsync("died; replacing it", Patience), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromMilliseconds(5), await _time.NextTimerAsync(Patience));
        _time.Advance(TimeSpan.FromMilliseconds(5));
        var second = await driver.NextStartAsync(Patience);
        Assert.NotEqual(first.Id, second.Id);
        await _log.NextAsync("is warm", Patience);
        await Until.TrueAsync(() => pool.WarmCount == 1, Patience, "the replacement to be warm");
    }

    [Fact]
    public async Task AnAgentThatDoesNotHandShake_IsGivenUp_WhenTheClockSaysSo()
    {
        var driver = new FakeAgentDriver(_internalNats, handShakes: false);
        var config = new NodeConfig { AgentHandshakeTimeoutMs = 2000 };
        await using var pool = new AgentPool(driver, _internalNats, new NoListener(), config, _time, _log);
        pool.Start();
        var machine = await driver.NextStartAsync(Patience);

        // The handshake's deadline is a timer on the node's clock: the machine lives until the clock moves.
        Assert.Equal(TimeSpan.FromSeconds(2), await _time.NextTimerAsync(Patience));
        Assert.False(machine.Exited.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(machine.Exited.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal($"Could not start a warm agent: agent {machine.Id} did not hand-shake within 2000ms", await _log.NextAsync("did not hand-shake", Patience));
        await machine.Exited.WaitAsync(Patience, Ct);
        Assert.Equal(AgentPool.Backoff(1), await _time.NextTimerAsync(Patience)); // then the start-failure backoff
        Assert.Equal(0, pool.WarmCount);
    }

    [Fact]
    public async Task ATakeWaits_OnTheClock_ThenReturnsNothing()
    {
        var driver = new FakeAgentDriver(_internalNats, handShakes: false);
        var config = new NodeConfig { AgentHandshakeTimeoutMs = 3000 }; // not the ping interval's 5 s: the timers stay apart
        await using var pool = new AgentPool(driver, _internalNats, new NoListener(), config, _time, _log);
        pool.Start();
        await driver.NextStartAsync(Patience);
        Assert.Equal(pool.HandshakeTimeout, await _time.NextTimerAsync(Patience));

        var take = pool.TakeAsync(TimeSpan.FromSeconds(1), Ct);
        Assert.Equal(TimeSpan.FromSeconds(1), await _time.NextTimerAsync(Patience));
        Assert.False(take.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await take.WaitAsync(Patience, Ct));
    }
}
