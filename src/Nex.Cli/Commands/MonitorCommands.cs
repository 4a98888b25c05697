using System.CommandLine;
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
                var colors = FeedFormat.Colors;
                await foreach (var (message, notice) in session.Client.WatchEventsWithNoticesAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    // On stderr: stdout stays a clean stream of events (JSON lines with --json) for whoever reads the pipe.
                    if (notice is not null)
                    {
                        Console.Error.WriteLine(FeedFormat.Notice(notice));
                        continue;
                    }

                    if (session.Output.Json)
                    {
                        Output.WriteJsonLine(message!.Raw.Span);
                    }
                    else
                    {
                        Output.Line(FeedFormat.EventLine(message!, colors));
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
        var logs = new Command("logs", "Watch workload and node log lines of the namespace (use -n '*' for all); --json prints one JSON object per line");
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
                var colors = FeedFormat.Colors;
                await foreach (var (line, notice) in session.Client.WatchLogsWithNoticesAsync(filter, cancellationToken).ConfigureAwait(false))
                {
                    if (notice is not null)
                    {
                        Console.Error.WriteLine(FeedFormat.Notice(notice));
                        continue;
                    }

                    // --json: one JSON object per line (jq, log shippers), not 0.2's indented RawLog.
                    Output.Line(session.Output.Json ? FeedFormat.LogJson(line!) : FeedFormat.LogLine(line!, colors));
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
