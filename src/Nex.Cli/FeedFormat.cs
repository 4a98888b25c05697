using System.Globalization;
using System.Text.Json;
using Nex.Client;
using Nex.Protocol;

namespace Nex.Cli;

/// <summary>How <c>nex logs</c> and <c>nex events</c> print what they receive: a line for people (coloured on a
/// terminal), a JSON line for machines, and a stderr line when the connection drops or comes back.</summary>
internal static class FeedFormat
{
    /// <summary>Colours on a terminal unless <c>NO_COLOR</c> is set (no-color.org); never when stdout is a pipe or file.</summary>
    public static bool Colors => Ansi.UseColors(Output.IsTerminal, Environment.GetEnvironmentVariable("NO_COLOR"));

    /// <summary><c>HH:mm:ss.fff [LEVEL] name/id: text</c>, in local time; the level coloured by severity.</summary>
    public static string LogLine(NexLogLine line, bool colors)
    {
        var time = line.Time.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        return $"{time} {Ansi.Paint($"[{line.Level}]", colors ? LevelColor(line.Level) : null)} {line.WorkloadName}/{line.WorkloadId}: {line.Text.TrimEnd('\n', '\r')}";
    }

    /// <summary>One line of JSON (<see cref="LogRecord"/>).</summary>
    public static string LogJson(NexLogLine line) => JsonSerializer.Serialize(
        new LogRecord
        {
            Time = line.Time,
            Node = line.NodeId,
            NodeName = line.NodeName,
            Namespace = line.Namespace,
            WorkloadName = line.WorkloadName,
            WorkloadId = line.WorkloadId,
            Level = line.Level,
            Text = line.Text.TrimEnd('\n', '\r'),
        },
        NexJson.Context.LogRecord);

    /// <summary><c>HH:mm:ss.fff  namespace  type  summary</c>, the type coloured by what it means.</summary>
    public static string EventLine(NexEventMessage message, bool colors)
    {
        var time = (message.Event?.Time ?? DateTimeOffset.UtcNow).ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var type = Ansi.Paint(message.Type.PadRight(24), colors ? EventColor(message) : null);
        return $"{time}  {message.Namespace,-10} {type} {EventText.Describe(message)}";
    }

    /// <summary>The stderr line of a connection change.</summary>
    public static string Notice(FeedConnectionNotice notice)
    {
        var time = notice.Time.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var detail = string.IsNullOrWhiteSpace(notice.Detail) ? "" : $" ({notice.Detail})";
        return notice.State == FeedConnectionState.Lost
            ? $"nex: {time} connection to NATS lost{detail}; reconnecting (what is published meanwhile is missed)"
            : $"nex: {time} connection to NATS restored{detail}";
    }

    /// <summary>Error red, warn yellow, debug grey, info (and the rest) as the terminal's text.</summary>
    internal static string? LevelColor(string level) => LogLevels.Rank(level) switch
    {
        >= 8 => Ansi.Red,
        >= 4 => Ansi.Yellow,
        < 0 => Ansi.Grey,
        _ => null,
    };

    /// <summary>Failures red, warnings of the node's state yellow, arrivals green, routine grey.</summary>
    internal static string? EventColor(NexEventMessage message) => message.Type switch
    {
        EventTypes.FunctionExecFailed or EventTypes.AgentStartFailed or EventTypes.WorkloadRecoveryFailed or EventTypes.NodeUnhealthy => Ansi.Red,
        EventTypes.WorkloadUndeployed => Field(message, "code") is { Length: > 0 } code && code != "0" ? Ansi.Red : null,
        EventTypes.NodeEnteredLameDuck or EventTypes.NodeStopped or EventTypes.NodeDrained or EventTypes.WorkloadRescheduled => Ansi.Yellow,
        EventTypes.NodeStarted or EventTypes.NodeHealthy or EventTypes.WorkloadDeployed => Ansi.Green,
        EventTypes.Heartbeat or EventTypes.AgentStarted or EventTypes.AgentStopped => Ansi.Grey,
        _ => null,
    };

    private static string Field(NexEventMessage message, string field) =>
        message.Event is { Data: { ValueKind: JsonValueKind.Object } data } && data.TryGetProperty(field, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.ToString()
            : "";
}
