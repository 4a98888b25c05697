using System.Globalization;

namespace Nex.Bench;

/// <summary>The campaign's figures as tables (rendered by Spectre.Console, or as Markdown).</summary>
internal static class CampaignTables
{
    private static readonly string[] Categories = ["clear_error", "leaky_error", "no_reply", "no_responders", "accepted"];

    public static IReadOnlyList<Table> Build(CampaignReport report)
    {
        var tables = new List<Table>();
        if (report.Malformed is { } m)
        {
            var kinds = m.BySubject.Keys.ToList();
            var rows = Categories.Select(c => (IReadOnlyList<string>)[c, .. kinds.Select(k => Count(m.BySubject[k], c)), Count(m.ByCategory, c)]).ToList();
            rows.Add(["total", .. kinds.Select(k => m.BySubject[k].Values.Sum().ToString(CultureInfo.InvariantCulture)), m.Total.ToString(CultureInfo.InvariantCulture)]);
            rows.Add(["PING failed after batch", .. kinds.Select(_ => ""), $"{m.PingFailuresAfterBatch} of {m.Batches}"]);
            rows.Add(["node connections closed by the server", .. kinds.Select(_ => ""), m.NodeConnectionsClosed.ToString(CultureInfo.InvariantCulture) + (m.CloseReasons.Count > 0 ? $" ({string.Join(", ", m.CloseReasons)})" : "")]);
            tables.Add(new Table($"1. Malformed control requests ({m.Total})", ["reply", .. kinds, "all"], rows));
            if (m.LeakReasons.Count > 0)
            {
                tables.Add(new Table("1a. Why errors count as leaky", ["reason", "replies"], [.. m.LeakReasons.Select(r => (IReadOnlyList<string>)[r.Key, r.Value.ToString(CultureInfo.InvariantCulture)])]));
            }

            if (m.LeakyExamples.Count > 0)
            {
                tables.Add(new Table("1b. Leaky errors (examples)", ["request → error"], [.. m.LeakyExamples.Select(e => (IReadOnlyList<string>)[e])]));
            }

            if (m.AcceptedDeployExamples.Count > 0 || m.NoReplyExamples.Count > 0)
            {
                tables.Add(new Table(
                    "1c. Accepted malformed DEPLOYs and unanswered requests (examples)",
                    ["what", "request"],
                    [.. m.AcceptedDeployExamples.Select(e => (IReadOnlyList<string>)["accepted DEPLOY", e]), .. m.NoReplyExamples.Select(e => (IReadOnlyList<string>)["no reply", e])]));
            }
        }

        if (report.Isolation.Count > 0)
        {
            var refused = report.Isolation.Count(a => a.Outcome == IsolationAttempt.Refused);
            var judged = report.Isolation.Count(a => a.Outcome != IsolationAttempt.Skipped);
            tables.Add(new Table(
                $"2. Isolation attempts: {refused} of {judged} refused",
                ["group", "attempt", "outcome", "detail"],
                [.. report.Isolation.Select(a => (IReadOnlyList<string>)[a.Group, a.Attempt, a.Outcome == IsolationAttempt.Allowed ? "ALLOWED" : a.Outcome, a.Detail])]));
        }

        if (report.Survival.Count > 0)
        {
            tables.Add(new Table(
                "3. Survival after kill -9",
                ["killed", "function back", "service back", "unhealthy shown", "health field", "PING machines", "INFO machines", "live busy agents", "lists gone machines", "orphans of the killed", "deploy after"],
                [.. report.Survival.Select(s => (IReadOnlyList<string>)[
                    s.Killed, Back(s.FunctionWentDown, s.FunctionBackSeconds, s.WindowSeconds), Back(s.ServiceWentDown, s.ServiceBackSeconds, s.WindowSeconds), s.UnhealthySeconds is { } u ? u.ToString("0.0 's'", CultureInfo.InvariantCulture) : "not shown",
                    s.HealthFieldPresent ? "yes" : "NO", Num(s.PingRunningMachines), Num(s.InfoMachines), s.LiveBusyAgents.ToString(CultureInfo.InvariantCulture),
                    s.ListsGoneMachines ? "YES" : "no", $"{s.OrphansAfterWindow} of {s.ProcessesUnderKilled}", s.DeployAfter])]));
        }

        if (report.Soak is { } soak)
        {
            var rows = soak.Curve.Select(c => (IReadOnlyList<string>)[c.Cycle.ToString(CultureInfo.InvariantCulture), c.NodeRssMiB.ToString("0.0", CultureInfo.InvariantCulture), c.InternalNatsRssMiB.ToString("0.0", CultureInfo.InvariantCulture), c.Agents.ToString(CultureInfo.InvariantCulture)]).ToList();
            tables.Add(new Table(
                $"4. Soak: {soak.Cycles} deploy/stop cycles in {soak.Seconds:0} s, {soak.DeployFailures} deploy and {soak.StopFailures} stop failures",
                ["cycle", "node RSS MiB", "internal nats-server RSS MiB", "agents"],
                rows));
            tables.Add(new Table(
                "4a. Leftovers (workload-* in the node's TMPDIR)",
                ["while 2 run", "after agent kill -9", "after node kill -9", "after a new node started", "orphan processes after node kill -9"],
                [[soak.WorkloadFilesWhileRunning.ToString(CultureInfo.InvariantCulture), soak.WorkloadFilesAfterAgentKill.ToString(CultureInfo.InvariantCulture), soak.WorkloadFilesAfterNodeKill.ToString(CultureInfo.InvariantCulture), soak.WorkloadFilesAfterRestart.ToString(CultureInfo.InvariantCulture), soak.OrphansAfterNodeKill.ToString(CultureInfo.InvariantCulture)]]));
        }

        return tables;
    }

    public static string Markdown(CampaignReport report)
    {
        var lines = new List<string> { $"Campaign of {report.Started:yyyy-MM-dd HH:mm} UTC, {report.DurationSeconds:0} s{(report.Settings.IsQuick ? " (--quick)" : "")}.", "" };
        foreach (var t in Build(report))
        {
            lines.Add($"**{t.Title}**");
            lines.Add("");
            lines.Add("| " + string.Join(" | ", t.Headers) + " |");
            lines.Add("|" + string.Concat(t.Headers.Select(_ => "---|")));
            lines.AddRange(t.Rows.Select(r => "| " + string.Join(" | ", r.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal))) + " |"));
            lines.Add("");
        }

        lines.AddRange(report.Errors.Select(e => $"- step failed: {e}"));
        return string.Join('\n', lines);
    }

    private static string Count(SortedDictionary<string, int> counts, string category) => counts.TryGetValue(category, out var n) ? n.ToString(CultureInfo.InvariantCulture) : "0";

    private static string Secs(double? seconds, double window) => seconds is { } s ? s.ToString("0.0 's'", CultureInfo.InvariantCulture) : $"NO (> {window:0} s)";

    private static string Back(bool wentDown, double? seconds, double window) => wentDown ? Secs(seconds, window) : "never down";

    private static string Num(int? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>One table: a title, its headers and rows of cells.</summary>
    internal sealed record Table(string Title, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows);
}
