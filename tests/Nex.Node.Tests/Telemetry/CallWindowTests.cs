using Microsoft.Extensions.Time.Testing;
using Nex.Node.Telemetry;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>INFO's per-function call stats: totals, the 10 s rate, and round-trip percentiles over recent calls.</summary>
public sealed class CallWindowTests
{
    private readonly FakeTimeProvider _time = new();

    private void Call(CallWindow window, TimeSpan takes, bool failed = false)
    {
        var started = window.Start();
        _time.Advance(takes);
        window.Record(started, failed);
    }

    [Fact]
    public void BeforeAnyCall_EverythingIsZero()
    {
        var stats = new CallWindow(_time).Read();
        Assert.Equal(0, stats.Total);
        Assert.Equal(0, stats.Errors);
        Assert.Equal(0, stats.PerSecond);
        Assert.Equal(0, stats.P50Micros);
        Assert.Equal(0, stats.P99Micros);
    }

    [Fact]
    public void TotalsErrorsAndPercentiles_ComeFromTheRecordedRoundTrips()
    {
        var window = new CallWindow(_time);
        for (var i = 0; i < 98; i++)
        {
            Call(window, TimeSpan.FromMilliseconds(1));
        }

        Call(window, TimeSpan.FromMilliseconds(50), failed: true);
        Call(window, TimeSpan.FromMilliseconds(200), failed: true);
        window.RecordHostServiceCall();

        var stats = window.Read();
        Assert.Equal(100, stats.Total);
        Assert.Equal(2, stats.Errors);
        Assert.Equal(1000, stats.P50Micros);
        Assert.Equal(50_000, stats.P99Micros); // nearest rank: the 99th of 100
        Assert.Equal(1, stats.HostServiceCalls);
    }

    [Fact]
    public void PerSecond_IsOverTheLastTenSeconds_OrLessForAFunctionJustDeployed()
    {
        var window = new CallWindow(_time);
        _time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 20; i++)
        {
            Call(window, TimeSpan.FromMilliseconds(1));
        }

        // 20 calls in the 1.02 s the function has existed.
        Assert.InRange(window.Read().PerSecond, 19, 20);

        // Ten seconds of 5 calls a second, then the rate is theirs alone.
        for (var second = 0; second < 12; second++)
        {
            for (var i = 0; i < 5; i++)
            {
                Call(window, TimeSpan.FromMilliseconds(1));
            }

            _time.Advance(TimeSpan.FromMilliseconds(995));
        }

        Assert.InRange(window.Read().PerSecond, 4.4, 5.6);

        // Idle for longer than the window: no rate, but the totals and the recent latencies stay.
        _time.Advance(TimeSpan.FromSeconds(15));
        var idle = window.Read();
        Assert.Equal(0, idle.PerSecond);
        Assert.Equal(80, idle.Total);
        Assert.Equal(1000, idle.P50Micros);
    }

    [Fact]
    public void Percentiles_ForgetCallsOlderThanAMinute()
    {
        var window = new CallWindow(_time);
        Call(window, TimeSpan.FromMilliseconds(5));
        _time.Advance(TimeSpan.FromSeconds(61));
        var stats = window.Read();
        Assert.Equal(0, stats.P50Micros);
        Assert.Equal(1, stats.Total);
    }

    [Fact]
    public void Percentiles_AreOverTheLast1024Calls()
    {
        var window = new CallWindow(_time);
        for (var i = 0; i < 1500; i++)
        {
            Call(window, TimeSpan.FromMilliseconds(10));
        }

        for (var i = 0; i < CallWindow.Samples; i++)
        {
            Call(window, TimeSpan.FromMicroseconds(300));
        }

        var stats = window.Read();
        Assert.Equal(300, stats.P50Micros);
        Assert.Equal(300, stats.P99Micros);
        Assert.Equal(1500 + CallWindow.Samples, stats.Total);
    }

    [Fact]
    public async Task ConcurrentRecording_LosesNoCallFromTheTotals()
    {
        var window = new CallWindow(TimeProvider.System);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                window.Record(window.Start(), failed: i % 10 == 0);
            }
        }, TestContext.Current.CancellationToken)));
        var stats = window.Read();
        Assert.Equal(40_000, stats.Total);
        Assert.Equal(4_000, stats.Errors);
        Assert.True(stats.PerSecond > 0);
    }
}
