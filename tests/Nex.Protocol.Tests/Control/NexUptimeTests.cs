using Xunit;

namespace Nex.Protocol.Tests.Control;

public class NexUptimeTests
{
    [Theory]
    [InlineData(0, "0s")]
    [InlineData(45, "45s")]
    [InlineData(187, "3m7s")]
    [InlineData(7205, "2h0m5s")]
    [InlineData(86400, "1d0h0m0s")]
    [InlineData(((365 + 2) * 86400) + (3 * 3600) + (4 * 60) + 5, "1y2d3h4m5s")]
    [InlineData(60, "1m0s")]
    [InlineData(3600, "1h0m0s")]
    [InlineData(365 * 86400, "1y0d0h0m0s")]
    public void Format_matches_nats_style(long seconds, string expected)
    {
        Assert.Equal(expected, NexUptime.Format(TimeSpan.FromSeconds(seconds)));
    }

    [Fact]
    public void Format_truncates_to_whole_seconds_and_clamps_negatives()
    {
        Assert.Equal("3m7s", NexUptime.Format(TimeSpan.FromSeconds(187.999)));
        Assert.Equal("0s", NexUptime.Format(TimeSpan.FromMilliseconds(999)));
        Assert.Equal("0s", NexUptime.Format(TimeSpan.FromSeconds(-5)));
    }

    [Theory]
    [InlineData(0, "0ns")]
    [InlineData(100, "100ns")]
    [InlineData(900, "900ns")]
    [InlineData(1_000, "0ms")]
    [InlineData(5_000, "0ms")]
    [InlineData(1_000_000, "1ms")]
    [InlineData(999_999_999, "999ms")]
    [InlineData(1_000_000_000, "1s")]
    [InlineData(187_500_000_000, "3m7s")]
    public void FormatRuntimeNanos_matches_spec(long nanos, string expected)
    {
        Assert.Equal(expected, NexUptime.FormatRuntimeNanos(nanos));
    }

    [Fact]
    public void FormatRuntime_uses_same_rules_for_timespans()
    {
        Assert.Equal("500ns", NexUptime.FormatRuntime(TimeSpan.FromTicks(5)));
        Assert.Equal("250ms", NexUptime.FormatRuntime(TimeSpan.FromMilliseconds(250)));
        Assert.Equal("2h0m5s", NexUptime.FormatRuntime(TimeSpan.FromSeconds(7205)));
        Assert.Equal("0ns", NexUptime.FormatRuntime(TimeSpan.FromTicks(-1)));
        Assert.Equal(NexUptime.FormatRuntimeNanos(long.MaxValue), NexUptime.FormatRuntime(TimeSpan.MaxValue));
    }
}
