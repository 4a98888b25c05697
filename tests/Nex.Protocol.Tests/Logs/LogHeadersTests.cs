using Xunit;

namespace Nex.Protocol.Tests.Logs;

/// <summary>The headers a node adds to its log lines.</summary>
public sealed class LogHeadersTests
{
    [Fact]
    public void LogHeaders_TimeRoundTrips_AndRejectsGarbage()
    {
        var time = new DateTimeOffset(2026, 12, 7, 2, 3, 4, TimeSpan.FromHours(1)).AddTicks(5);
        Assert.Equal("2026-12-07T01:03:04.0000005Z", LogHeaders.FormatTime(time));
        Assert.True(LogHeaders.TryParseTime(LogHeaders.FormatTime(time), out var back));
        Assert.Equal(time, back);
        Assert.False(LogHeaders.TryParseTime("yesterday", out _));
        Assert.False(LogHeaders.TryParseTime(null, out _));
    }
}
