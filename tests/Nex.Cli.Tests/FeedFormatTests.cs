using System.Text;
using System.Text.Json;
using Nex.Client;
using Nex.Protocol;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>What <c>nex logs</c> and <c>nex events</c> print for a line, an event and a connection change.</summary>
public sealed class FeedFormatTests
{
    private static readonly DateTimeOffset Sent = new(2026, 12, 7, 2, 3, 4, 567, TimeSpan.Zero);

    private static NexLogLine Line(string level, string text = "hello\n") =>
        new("default", "NNODE", "echo", "vm1", level, text, Sent.AddSeconds(1)) { NodeName = "quick-gecko", Time = Sent };

    [Fact]
    public void LogJson_IsOneLine_WithEveryField_AndTheTextTrimmed()
    {
        var json = FeedFormat.LogJson(Line("WARN"));
        Assert.DoesNotContain('\n', json);
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        Assert.Equal("2026-12-07T02:03:04.567Z", e.GetProperty("time").GetString());
        Assert.Equal("NNODE", e.GetProperty("node").GetString());
        Assert.Equal("quick-gecko", e.GetProperty("node_name").GetString());
        Assert.Equal("default", e.GetProperty("namespace").GetString());
        Assert.Equal("echo", e.GetProperty("workload_name").GetString());
        Assert.Equal("vm1", e.GetProperty("workload_id").GetString());
        Assert.Equal("WARN", e.GetProperty("level").GetString());
        Assert.Equal("hello", e.GetProperty("text").GetString());
    }

    [Fact]
    public void LogJson_FromANodeThatSendsNoHeaders_UsesTheReceiveTime_AndLeavesNodeNameOut()
    {
        var line = new NexLogLine("default", "NNODE", "echo", "vm1", "INFO", "x", Sent);
        using var doc = JsonDocument.Parse(FeedFormat.LogJson(line));
        Assert.Equal("2026-12-07T02:03:04.567Z", doc.RootElement.GetProperty("time").GetString());
        Assert.False(doc.RootElement.TryGetProperty("node_name", out _));
    }

    [Theory]
    [InlineData("ERROR", "\e[31m")]
    [InlineData("WARN", "\e[33m")]
    [InlineData("DEBUG", "\e[90m")]
    public void LogLine_ColoursTheLevel_OnlyWhenAskedTo(string level, string color)
    {
        Assert.Contains($"{color}[{level}]\e[0m echo/vm1: hello", FeedFormat.LogLine(Line(level), colors: true), StringComparison.Ordinal);
        var plain = FeedFormat.LogLine(Line(level), colors: false);
        Assert.DoesNotContain('\e', plain);
        Assert.EndsWith($"[{level}] echo/vm1: hello", plain, StringComparison.Ordinal);
    }

    [Fact]
    public void LogLine_LeavesInfoInTheTerminalsColour()
    {
        Assert.DoesNotContain('\e', FeedFormat.LogLine(Line("INFO"), colors: true));
    }

    [Fact]
    public void EventLine_ColoursFailuresRed_AndACleanUndeployNot()
    {
        static NexEventMessage Event<T>(string type, T data, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
        {
            var cloudEvent = CloudEvent.Create("NNODE", type, Sent, data, info, "default");
            return new NexEventMessage("default", type, cloudEvent, JsonSerializer.SerializeToUtf8Bytes(cloudEvent, NexJson.Context.CloudEvent));
        }

        var failed = Event(EventTypes.FunctionExecFailed, new FunctionExecFailedEvent { WorkloadName = "echo", Error = "boom" }, NexJson.Context.FunctionExecFailedEvent);
        Assert.Contains("\e[31mfunction_exec_failed", FeedFormat.EventLine(failed, colors: true), StringComparison.Ordinal);
        Assert.DoesNotContain('\e', FeedFormat.EventLine(failed, colors: false));
        Assert.Contains("function echo on  failed: boom", FeedFormat.EventLine(failed, colors: false), StringComparison.Ordinal);

        var crashed = Event(EventTypes.WorkloadUndeployed, new WorkloadUndeployedEvent { WorkloadName = "echo", Code = 2 }, NexJson.Context.WorkloadUndeployedEvent);
        Assert.Equal("\e[31m", FeedFormat.EventColor(crashed));
        var clean = Event(EventTypes.WorkloadUndeployed, new WorkloadUndeployedEvent { WorkloadName = "echo", Code = 0 }, NexJson.Context.WorkloadUndeployedEvent);
        Assert.Null(FeedFormat.EventColor(clean));

        var raw = new NexEventMessage("default", "odd", null, Encoding.UTF8.GetBytes("not json"));
        Assert.EndsWith("not json", FeedFormat.EventLine(raw, colors: true), StringComparison.Ordinal);
    }

    [Fact]
    public void Notice_IsOneLine_ThatSaysLostOrRestored()
    {
        var lost = FeedFormat.Notice(new FeedConnectionNotice(FeedConnectionState.Lost, "nats://127.0.0.1:4222", Sent));
        Assert.StartsWith("nex: ", lost, StringComparison.Ordinal);
        Assert.Contains("connection to NATS lost (nats://127.0.0.1:4222); reconnecting", lost, StringComparison.Ordinal);
        Assert.Contains("connection to NATS restored", FeedFormat.Notice(new FeedConnectionNotice(FeedConnectionState.Restored, "", Sent)), StringComparison.Ordinal);
    }
}
