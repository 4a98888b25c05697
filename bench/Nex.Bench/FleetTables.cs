using System.Globalization;

namespace Nex.Bench;

/// <summary>The tables of <c>bench/run --fleet</c>.</summary>
internal static class FleetTables
{
    public static IEnumerable<ReportTable> Build(FleetReport report)
    {
        var s = report.Settings;
        yield return new ReportTable(
            $"Placement: {s.Placements} services without --node, then one deploy with --replicas {s.Nodes}",
            ["node", "services", "replicas"],
            [.. report.Spread.Keys.Union(report.ReplicaSpread.Keys).Order(StringComparer.Ordinal)
                .Select(n => (IReadOnlyList<string>)[n, Count(report.Spread, n), Count(report.ReplicaSpread, n)])]);

        var answered = report.Rounds.Where(r => r.SecondsToAnswer >= 0).Select(r => r.SecondsToAnswer).Order().ToList();
        yield return new ReportTable(
            $"kill -9 of the node that runs an essential service → first answer from another node (heartbeat {s.HeartbeatMs} ms, lease grace {s.LeaseGraceMs} ms)",
            ["rounds", "answered", "p50 s", "max s", "lost", "doubled"],
            [[
                report.Rounds.Count.ToString(CultureInfo.InvariantCulture),
                answered.Count.ToString(CultureInfo.InvariantCulture),
                answered.Count == 0 ? "-" : answered[answered.Count / 2].ToString("0.0", CultureInfo.InvariantCulture),
                answered.Count == 0 ? "-" : answered[^1].ToString("0.0", CultureInfo.InvariantCulture),
                report.Lost.ToString(CultureInfo.InvariantCulture),
                report.Doubled.ToString(CultureInfo.InvariantCulture),
            ]]);
    }

    private static string Count(Dictionary<string, int> counts, string node) =>
        counts.TryGetValue(node, out var n) ? n.ToString(CultureInfo.InvariantCulture) : "0";
}
