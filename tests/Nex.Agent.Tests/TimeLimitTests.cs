using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Nex.Agent.Tests;

public sealed class TimeLimitTests
{
    [Fact]
    public void CancelsWhenTheClockReachesTheLimit_NotBefore()
    {
        var clock = new FakeTimeProvider();
        using var limit = new TimeLimit(TimeSpan.FromSeconds(2), clock, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromTicks(1));
        Assert.False(limit.IsCancellationRequested);
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.True(limit.Token.IsCancellationRequested);
    }

    [Fact]
    public void EitherToken_CancelsItSooner_EvenOneAlreadyCancelled()
    {
        var clock = new FakeTimeProvider();
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        using (var limit = new TimeLimit(TimeSpan.FromMinutes(1), clock, first.Token, second.Token))
        {
            second.Cancel();
            Assert.True(limit.IsCancellationRequested);
        }

        using var again = new TimeLimit(TimeSpan.FromMinutes(1), clock, first.Token, second.Token);
        Assert.True(again.IsCancellationRequested);
    }

    [Fact]
    public void AfterDispose_TheTokensAndTheClock_NoLongerReachIt()
    {
        var clock = new FakeTimeProvider();
        using var first = new CancellationTokenSource();
        var limit = new TimeLimit(TimeSpan.FromSeconds(1), clock, first.Token);
        var token = limit.Token;
        limit.Dispose();
        first.Cancel(); // would throw if the registration still cancelled the disposed source
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.False(token.IsCancellationRequested);
    }
}
