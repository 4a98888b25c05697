using System.Globalization;
using Nex.Client;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Nex.Cli.Commands;

/// <summary>An event line of <c>nex top</c>'s bottom pane.</summary>
/// <param name="Time">The event's time (receipt time when it had none).</param>
/// <param name="Namespace">Its namespace.</param>
/// <param name="Type">Its type.</param>
/// <param name="Text">The one-line summary (<see cref="EventText.Describe"/>).</param>
internal sealed record TopEventLine(DateTimeOffset Time, string Namespace, string Type, string Text);

/// <summary>Draws a <see cref="TopView"/>: the live screen (fits the terminal, 80 columns and up) and the plain one-shot text.</summary>
internal static class TopScreen
{
    /// <summary>Event lines shown under the workloads.</summary>
    public const int EventRows = 8;

    /// <summary>The live screen: header, nodes, workloads (as many as fit in <paramref name="height"/>), latest events;
    /// <paramref name="status"/> (a lost connection, a failed reading) in red under the header.</summary>
    public static IRenderable Render(TopView view, IReadOnlyList<TopEventLine> events, int width, int height, string? status = null)
    {
        // Names get what the fixed columns leave of the width; an 80-column terminal fits every column.
        var extra = Math.Max(0, width - 80);
        var nameWidth = Math.Min(40, 14 + (extra / 2));
        var nsWidth = Math.Min(20, 9 + (extra / 6));
        var nodeWidth = Math.Min(24, 10 + (extra / 6));

        var parts = new List<IRenderable>
        {
            new Markup($"[bold]{Markup.Escape(TopFormat.Truncate(HeaderLine(view), width))}[/]"),
            new Markup($"[dim]{Markup.Escape($"n namespace · s sort · q quit   {view.Time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)}")}[/]"),
        };
        parts.Add(status is null ? new Text("") : new Markup($"[red]{Markup.Escape(TopFormat.Truncate(status, width))}[/]"));

        var nodes = NewTable([("NODE", 16, false), ("ID", 12, false), ("UPTIME", 7, true), ("WL", 4, true), ("MEMORY", 13, true), ("LAME DUCK", 9, false), ("VERSION", 12, false)]);
        foreach (var node in view.Nodes)
        {
            var style = node.Problem is not null || node.Unhealthy is not null ? "red" : node.LameDuck ? "yellow" : "";
            nodes.AddRow(Cells(style,
                TopFormat.Truncate(node.Name.Length > 0 ? node.Name : TopFormat.ShortId(node.Id), 16),
                TopFormat.ShortId(node.Id),
                TopFormat.Duration(TopFormat.ParseUptime(node.Uptime)),
                node.Workloads.ToString(CultureInfo.InvariantCulture),
                TopFormat.UsedOfTotal(node.MemoryUsedBytes, node.MemoryTotalBytes),
                node.LameDuck ? "yes" : "no",
                TopFormat.Truncate(node.Version, 12)));
        }

        parts.Add(view.Nodes.Count == 0 ? new Markup("[dim]No nodes answered[/]") : nodes);
        foreach (var node in view.Nodes.Where(n => n.Problem is not null || n.Unhealthy is not null))
        {
            var why = node.Unhealthy is { } unhealthy ? $"unhealthy: {unhealthy}" : node.Problem!;
            parts.Add(new Markup($"[red]{Markup.Escape(TopFormat.Truncate($"{(node.Name.Length > 0 ? node.Name : TopFormat.ShortId(node.Id))}: {why}", width))}[/]"));
        }

        parts.Add(new Text(""));

        // What the header, the nodes and the events leave for workload rows (a table's header takes one line).
        var shownEvents = events.TakeLast(EventRows).ToList();
        var used = parts.Count + view.Nodes.Count + (view.Nodes.Count == 0 ? 0 : 1) + 2 + 1 + 1 + Math.Max(1, shownEvents.Count);
        var room = Math.Max(3, height - used);
        var rows = view.Workloads.Count <= room ? view.Workloads : view.Workloads.Take(room - 1).ToList();

        var workloads = NewTable([("NAME", nameWidth, false), ("NAMESPACE", nsWidth, false), ("TYPE", 6, false), ("NODE", nodeWidth, false), ("CALLS/S", 7, true), ("ERR", 5, true), ("P50", 6, true), ("MEM", 6, true), ("CPU%", 5, true), ("RST", 3, true)]);
        foreach (var w in rows)
        {
            workloads.AddRow(Cells(w.Errors > 0 ? "red" : "",
                TopFormat.Truncate(w.Name, nameWidth),
                TopFormat.Truncate(w.Namespace, nsWidth),
                TopFormat.Truncate(w.Type, 6),
                TopFormat.Truncate(w.NodeName.Length > 0 ? w.NodeName : TopFormat.ShortId(w.NodeId), nodeWidth),
                TopFormat.Rate(w.CallsPerSecond),
                TopFormat.Count(w.Errors),
                TopFormat.Micros(w.P50Micros),
                TopFormat.CompactBytes(w.MemoryBytes),
                w.CpuPercent is { } cpu ? cpu.ToString("0.0", CultureInfo.InvariantCulture) : TopFormat.Missing,
                w.Restarts.ToString(CultureInfo.InvariantCulture)));
        }

        parts.Add(view.Workloads.Count == 0 ? new Markup($"[dim]No workloads{(view.Namespace is { } ns ? $" in namespace {Markup.Escape(ns)}" : "")}[/]") : workloads);
        if (rows.Count < view.Workloads.Count)
        {
            parts.Add(new Markup($"[dim]… and {view.Workloads.Count - rows.Count} more[/]"));
        }

        parts.Add(new Text(""));
        parts.Add(new Markup("[bold]Latest events[/]"));
        if (shownEvents.Count == 0)
        {
            parts.Add(new Markup("[dim]none yet[/]"));
        }

        foreach (var e in shownEvents)
        {
            var line = $"{e.Time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)} {TopFormat.Truncate(e.Type, 23),-23} {e.Text}";
            parts.Add(new Text(TopFormat.Truncate(line.ReplaceLineEndings(" "), width)));
        }

        return new Rows(parts);
    }

    /// <summary>
    /// The header: totals, filter and sort, as <c>htop</c> and <c>nats top</c> start with.
    /// <c>nex top · 2 nodes · 5 workloads · 12.3 calls/s · namespace all · sort calls</c>.
    /// </summary>
    public static string HeaderLine(TopView view) =>
        $"nex top · {view.Totals.Nodes} node{(view.Totals.Nodes == 1 ? "" : "s")} · {view.Totals.Workloads} workload{(view.Totals.Workloads == 1 ? "" : "s")} · " +
        $"{TopFormat.Rate(view.Totals.CallsPerSecond)} calls/s · namespace {view.Namespace ?? "all"} · sort {view.Sort}";

    /// <summary>One reading as plain tables (tab-separated when piped), untruncated, for scripts and logs.</summary>
    public static void WritePlain(TopView view)
    {
        Output.Line(HeaderLine(view));
        Output.Heading("Nodes");
        Output.Table(
            ["Node", "ID", "Uptime", "Workloads", "Memory", "Lame duck", "Version", "Problem"],
            view.Nodes.Select(n => (IReadOnlyList<string>)[n.Name, n.Id, n.Uptime, n.Workloads.ToString(CultureInfo.InvariantCulture), TopFormat.UsedOfTotal(n.MemoryUsedBytes, n.MemoryTotalBytes), n.LameDuck ? "yes" : "no", n.Version, n.Unhealthy ?? n.Problem ?? ""]));
        Output.Heading("Workloads");
        Output.Table(
            ["Name", "Namespace", "Type", "Node", "Calls/s", "Errors", "P50", "Memory", "CPU%", "Restarts", "ID"],
            view.Workloads.Select(w => (IReadOnlyList<string>)[w.Name, w.Namespace, w.Type, w.NodeName.Length > 0 ? w.NodeName : w.NodeId, TopFormat.Rate(w.CallsPerSecond), TopFormat.Count(w.Errors), TopFormat.Micros(w.P50Micros), TopFormat.Bytes(w.MemoryBytes),
                w.CpuPercent is { } cpu ? cpu.ToString("0.0", CultureInfo.InvariantCulture) : TopFormat.Missing, w.Restarts.ToString(CultureInfo.InvariantCulture), w.Id]));
    }

    // Borderless, one space between columns, never wrapping: a row is one line, as in top. Fixed widths keep the
    // columns still from one refresh to the next; the widest row (workloads at 80 columns) takes 79.
    private static Table NewTable(IReadOnlyList<(string Header, int Width, bool Right)> columns)
    {
        var table = new Table().Border(TableBorder.None).HideRowSeparators();
        for (var i = 0; i < columns.Count; i++)
        {
            var (header, width, right) = columns[i];
            var column = new TableColumn(new Markup($"[bold]{header}[/]")).NoWrap().Width(width).PadLeft(0).PadRight(i == columns.Count - 1 ? 0 : 1);
            table.AddColumn(right ? column.RightAligned() : column);
        }

        return table;
    }

    private static IRenderable[] Cells(string style, params string[] cells) =>
        cells.Select(c => (IRenderable)new Markup(style.Length == 0 ? Markup.Escape(c) : $"[{style}]{Markup.Escape(c)}[/]")).ToArray();
}
