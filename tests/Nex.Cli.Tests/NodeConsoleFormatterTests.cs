using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>The node's console line: <c>HH:mm:ss LEVEL message</c>, no .NET category or event id, the level once.</summary>
public sealed class NodeConsoleFormatterTests
{
    private static string Write(NodeConsoleFormatterOptions options, LogLevel level, string message, Exception? exception = null)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 2, 3, 4, TimeSpan.Zero));
        var formatter = new NodeConsoleFormatter(options) { Time = time };
        using var writer = new StringWriter();
        var entry = new LogEntry<string>(level, "Nex.Node.NexNode", new EventId(12, "Up"), message, exception, static (s, _) => s);
        formatter.Write(entry, null, writer);
        return writer.ToString();
    }

    private static NodeConsoleFormatterOptions Plain => new() { TimestampFormat = "HH:mm:ss", UseUtcTimestamp = true };

    [Fact]
    public void Line_HasTimeLevelAndMessage_WithoutCategoryOrEventId()
    {
        Assert.Equal("02:03:04 INFO  Node N1 is up\n", Write(Plain, LogLevel.Information, "Node N1 is up").ReplaceLineEndings("\n"));
        Assert.Equal("02:03:04 WARN  careful\n", Write(Plain, LogLevel.Warning, "careful").ReplaceLineEndings("\n"));
        var line = Write(Plain, LogLevel.Error, "failed");
        Assert.DoesNotContain("Nex.Node", line, StringComparison.Ordinal);
        Assert.DoesNotContain("[12]", line, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", line, StringComparison.Ordinal);
        Assert.Single(line.Split(' '), word => word == "ERROR");
    }

    [Fact]
    public void Colours_OnlyWhenEnabled_AndOffWhenRedirectedOrNoColor()
    {
        Assert.DoesNotContain('\e', Write(Plain, LogLevel.Error, "failed"));
        var coloured = new NodeConsoleFormatterOptions { TimestampFormat = "HH:mm:ss", UseUtcTimestamp = true, Colors = true };
        Assert.Equal("02:03:04 \e[31mERROR\e[0m failed", Write(coloured, LogLevel.Error, "failed").TrimEnd());
        Assert.DoesNotContain('\e', Write(coloured, LogLevel.Information, "plain info"));

        Assert.False(Ansi.UseColors(terminal: false, noColor: null));
        Assert.False(Ansi.UseColors(terminal: true, noColor: "1"));
        Assert.True(Ansi.UseColors(terminal: true, noColor: ""));
    }

    [Fact]
    public void Exception_MessageOnTheLine_StackOnlyWhenAsked()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("outer", new IOException("disk full"));
        }
        catch (InvalidOperationException ex)
        {
            thrown = ex;
        }

        var line = Write(Plain, LogLevel.Error, "Deploy failed", thrown);
        Assert.Equal("02:03:04 ERROR Deploy failed: outer: disk full", line.TrimEnd());
        Assert.Single(line.TrimEnd().Split('\n'));

        var debug = Write(new NodeConsoleFormatterOptions { TimestampFormat = "HH:mm:ss", UseUtcTimestamp = true, StackTraces = true }, LogLevel.Error, "Deploy failed", thrown);
        Assert.StartsWith("02:03:04 ERROR Deploy failed: outer: disk full", debug, StringComparison.Ordinal);
        Assert.Contains("    System.InvalidOperationException: outer", debug, StringComparison.Ordinal);
        Assert.Contains("at Nex.Cli.Tests.NodeConsoleFormatterTests", debug, StringComparison.Ordinal);
    }

    [Fact]
    public void MultiLineMessage_StaysOneEntryLine()
    {
        Assert.Equal("02:03:04 INFO  a | b", Write(Plain, LogLevel.Information, "a\nb\n").TrimEnd());
    }
}
