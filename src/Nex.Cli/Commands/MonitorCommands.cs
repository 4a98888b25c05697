using System.CommandLine;
using System.Globalization;
using Nex.Client;
using Nex.Protocol;

namespace Nex.Cli.Commands;

/// <summary><c>nex events</c> and <c>nex logs</c>: live feeds until Ctrl-C (or <c>--count</c>).</summary>
internal static class MonitorCommands
{
    public static Command CreateEvents()
    {
        var count = new Option<int?>("--count") { Description = "exit after this many events" };
        var events = new Command("events", "Watch events of the namespace (use -n '*' for all) and node events");
        events.Options.Add(count);
        events.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var remaining = parse.GetValue(count) ?? int.MaxValue;
            if (remaining <= 0)
            {
                return 0;
            }

            try
            {
                await foreach (var message in session.Client.WatchEventsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    if (session.Output.Json)
                    {
                        Output.WriteJsonLine(message.Raw.Span);
                    }
                    else
                    {
                        var time = (message.Event?.Time ?? DateTimeOffset.UtcNow).ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
                        Output.Line($"{time}  {message.Namespace,-10} {message.Type,-24} {EventText.Describe(message)}");
                    }

                    if (--remaining == 0)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C.
            }

            return 0;
        });
        return events;
    }

    public static Command CreateLogs()
    {
        var node = new Option<string?>("--node") { Description = "only this node id (default all)" };
        var name = new Option<string?>("--workload_name", "--workload") { Description = "only this workload name" };
        var id = new Option<string?>("--workload_id") { Description = "only this workload id" };
        var level = new Option<string?>("--level") { Description = "lowest level shown: debug, info, warn or error" };
        level.AcceptOnlyFromAmong("debug", "info", "warn", "error");
        var count = new Option<int?>("--count") { Description = "exit after this many lines" };
        var logs = new Command("logs", "Watch workload and node log lines of the namespace (use -n '*' for all)");
        foreach (var option in new Option[] { node, name, id, level, count })
        {
            logs.Options.Add(option);
        }

        logs.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var filter = new LogFilter
            {
                NodeId = parse.GetValue(node),
                WorkloadName = parse.GetValue(name),
                WorkloadId = parse.GetValue(id),
                MinLevel = parse.GetValue(level),
            };
            var remaining = parse.GetValue(count) ?? int.MaxValue;
            if (remaining <= 0)
            {
                return 0;
            }

            try
            {
                await foreach (var line in session.Client.WatchLogsAsync(filter, cancellationToken).ConfigureAwait(false))
                {
                    if (session.Output.Json)
                    {
                        Output.WriteJson(new RawLog { Text = line.Text, Level = line.Level, Id = line.WorkloadId }, NexJson.Context.RawLog);
                    }
                    else
                    {
                        var time = line.Received.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
                        Output.Line($"{time} [{line.Level}] {line.WorkloadName}/{line.WorkloadId}: {line.Text.TrimEnd('\n', '\r')}");
                    }

                    if (--remaining == 0)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C.
            }

            return 0;
        });
        return logs;
    }
}
