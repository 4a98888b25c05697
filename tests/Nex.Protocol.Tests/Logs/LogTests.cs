using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Logs;

public class LogTests
{
    [Fact]
    public void Spec_example_log_line_round_trips()
    {
        var json = """{"text":"Echo service using NATS url 'nats://10.0.0.5:4222'\n","level":"WARN","id":"cq2v4h3m0lq6c5k2m3ig"}""";

        var log = JsonSerializer.Deserialize(json, NexJson.Context.RawLog)!;

        Assert.Equal("Echo service using NATS url 'nats://10.0.0.5:4222'\n", log.Text);
        Assert.Equal(LogLevels.Warn, log.Level);
        Assert.Equal("cq2v4h3m0lq6c5k2m3ig", log.Id);
        Assert.Equal(json, JsonSerializer.Serialize(log, NexJson.Context.RawLog));
    }

    [Theory]
    [InlineData(0, "ERROR")]
    [InlineData(1, "ERROR")]
    [InlineData(2, "ERROR")]
    [InlineData(3, "WARN")]
    [InlineData(4, "INFO")]
    [InlineData(5, "DEBUG")]
    [InlineData(6, "DEBUG")]
    [InlineData(-1, "ERROR")]
    [InlineData(42, "DEBUG")]
    public void FromAgentLevel_maps_correctly(int agentLevel, string expected)
    {
        Assert.Equal(expected, LogLevels.FromAgentLevel(agentLevel));
    }

    [Theory]
    [InlineData("DEBUG", -4)]
    [InlineData("INFO", 0)]
    [InlineData("WARN", 4)]
    [InlineData("ERROR", 8)]
    [InlineData("info", 0)]
    [InlineData("Warn", 4)]
    [InlineData("INFO+2", 2)]
    [InlineData("WARN+1", 5)]
    [InlineData("DEBUG-1", -5)]
    [InlineData("ERROR+4", 12)]
    public void Rank_understands_go_slog_levels(string level, int expected)
    {
        Assert.Equal(expected, LogLevels.Rank(level));
        Assert.True(LogLevels.TryParse(level, out var parsed));
        Assert.Equal(expected, parsed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("LOUD")]
    [InlineData("INFO+")]
    [InlineData("INFO+x")]
    public void Unknown_levels_rank_as_info(string? level)
    {
        Assert.Equal(LogLevels.Rank(LogLevels.Info), LogLevels.Rank(level));
        Assert.False(LogLevels.TryParse(level, out _));
    }

    [Fact]
    public void Rank_orders_levels()
    {
        Assert.True(LogLevels.Rank(LogLevels.Debug) < LogLevels.Rank(LogLevels.Info));
        Assert.True(LogLevels.Rank(LogLevels.Info) < LogLevels.Rank("INFO+2"));
        Assert.True(LogLevels.Rank("INFO+2") < LogLevels.Rank(LogLevels.Warn));
        Assert.True(LogLevels.Rank(LogLevels.Warn) < LogLevels.Rank(LogLevels.Error));
    }

    [Theory]
    [InlineData(-4, "DEBUG")]
    [InlineData(-5, "DEBUG-1")]
    [InlineData(-3, "DEBUG+1")]
    [InlineData(0, "INFO")]
    [InlineData(2, "INFO+2")]
    [InlineData(4, "WARN")]
    [InlineData(5, "WARN+1")]
    [InlineData(8, "ERROR")]
    [InlineData(10, "ERROR+2")]
    public void FormatSlogLevel_matches_go(int value, string expected)
    {
        Assert.Equal(expected, LogLevels.FormatSlogLevel(value));
        Assert.Equal(value, LogLevels.Rank(expected));
    }
}
