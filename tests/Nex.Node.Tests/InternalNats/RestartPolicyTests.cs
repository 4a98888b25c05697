using Microsoft.Extensions.Time.Testing;
using Nex.Node.InternalNats;
using Xunit;

namespace Nex.Node.Tests.InternalNats;

/// <summary>When the internal server is restarted, and when the node is unhealthy (a fake clock, no server).</summary>
public sealed class RestartPolicyTests
{
    private static readonly RestartPolicyOptions Options = new() { BaseDelay = TimeSpan.FromMilliseconds(250), MaxDelay = TimeSpan.FromSeconds(30), MaxDeaths = 5, Window = TimeSpan.FromMinutes(1) };

    [Fact]
    public void ALoneDeath_IsRestartedAtOnce_AndStaysHealthy()
    {
        var policy = new RestartPolicy(Options, new FakeTimeProvider());
        Assert.Equal(new RestartDecision(TimeSpan.Zero, Unhealthy: false), policy.OnDeath());
    }

    [Fact]
    public void DeathsCloseTogether_BackOff_AndTheFifthInAMinuteIsACrashLoop()
    {
        var time = new FakeTimeProvider();
        var policy = new RestartPolicy(Options, time);
        var delays = new List<RestartDecision>();
        for (var i = 0; i < 5; i++)
        {
            delays.Add(policy.OnDeath());
            policy.OnStarted();
            time.Advance(TimeSpan.FromSeconds(5));
        }

        Assert.Equal(
            [
                new RestartDecision(TimeSpan.Zero, false),
                new RestartDecision(TimeSpan.FromMilliseconds(250), false),
                new RestartDecision(TimeSpan.FromMilliseconds(500), false),
                new RestartDecision(TimeSpan.FromSeconds(1), false),
                new RestartDecision(TimeSpan.FromSeconds(30), true),
            ],
            delays);
    }

    [Fact]
    public void DeathsOutsideTheWindow_AreForgotten()
    {
        var time = new FakeTimeProvider();
        var policy = new RestartPolicy(Options, time);
        for (var i = 0; i < 4; i++)
        {
            policy.OnDeath();
            time.Advance(TimeSpan.FromSeconds(1));
        }

        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(new RestartDecision(TimeSpan.Zero, false), policy.OnDeath());
        Assert.Equal(1, policy.RecentDeaths);
    }

    [Fact]
    public void AFailedStart_IsUnhealthyAtOnce_AndRetriesBackOffToTheCap()
    {
        var policy = new RestartPolicy(Options, new FakeTimeProvider());
        policy.OnDeath();
        var delays = Enumerable.Range(0, 10).Select(_ => policy.OnStartFailed()).ToList();
        Assert.All(delays, d => Assert.True(d.Unhealthy));
        Assert.Equal(TimeSpan.FromMilliseconds(250), delays[0].Delay);
        Assert.Equal(TimeSpan.FromMilliseconds(500), delays[1].Delay);
        Assert.Equal(TimeSpan.FromSeconds(30), delays[^1].Delay);

        // Once a start succeeds, the next failure starts from the bottom again.
        policy.OnStarted();
        Assert.Equal(TimeSpan.FromMilliseconds(250), policy.OnStartFailed().Delay);
    }
}
