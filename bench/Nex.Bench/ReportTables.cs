using System.Globalization;
using System.Text;

namespace Nex.Bench;

/// <summary>One table of the report, rendered on the terminal and in BENCHMARKS.md alike.</summary>
internal sealed record ReportTable(string Title, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>Turns a report into tables (latencies in µs or ms, ratios to the raw NATS p50).</summary>
internal static class ReportTables
{
    public static IReadOnlyList<ReportTable> Build(BenchReport report)
    {
        var tables = new List<ReportTable>();
        var rtt = report.Baseline?.Sequential.P50Us ?? 0;
        var idleRtt = report.Baseline?.AfterIdle.P50Us ?? 0;
        if (report.Baseline is { } baseline)
        {
            tables.Add(new ReportTable(
                "Raw NATS request/reply (the baseline)",
                ["series", "p50", "p90", "p99", "max", "req/s"],
                [
                    ["sequential", Us(baseline.Sequential.P50Us), Us(baseline.Sequential.P90Us), Us(baseline.Sequential.P99Us), Us(baseline.Sequential.MaxUs), Rate(baseline.Sequential.PerSecond)],
                    [$"each after {report.Settings.IdleGapMs} ms idle", Us(baseline.AfterIdle.P50Us), Us(baseline.AfterIdle.P90Us), Us(baseline.AfterIdle.P99Us), Us(baseline.AfterIdle.MaxUs), "–"],
                    .. baseline.Relayed is { } r ? [(IReadOnlyList<string>)["relayed once (the function path's floor)", Us(r.P50Us), Us(r.P90Us), Us(r.P99Us), Us(r.MaxUs), Rate(r.PerSecond)]] : Array.Empty<IReadOnlyList<string>>(),
                    .. baseline.RelayedInProcesses is { } rp ? [(IReadOnlyList<string>)["relayed once, relay and echo in processes of their own (the process floor)", Us(rp.P50Us), Us(rp.P90Us), Us(rp.P99Us), Us(rp.MaxUs), Rate(rp.PerSecond)]] : Array.Empty<IReadOnlyList<string>>(),
                    .. baseline.Concurrent.Select(c => (IReadOnlyList<string>)[$"{c.Callers} callers", Us(c.Latency.P50Us), Us(c.Latency.P90Us), Us(c.Latency.P99Us), Us(c.Latency.MaxUs), Rate(c.Latency.PerSecond)]),
                ]));
        }

        var functionRows = new List<IReadOnlyList<string>>();
        var callerCounts = report.Settings.CallerCounts;
        foreach (var driver in report.Drivers)
        {
            foreach (var f in driver.Functions)
            {
                functionRows.Add([
                    driver.Driver, f.Kind, Us(f.Sequential.P50Us), Us(f.Sequential.P90Us), Us(f.Sequential.P99Us), X(f.P50Ratio), f.FloorP50Us(report) is > 0 and var fl ? $"{Us(f.Sequential.P50Us - fl)} ({Us(fl)})" : "–",
                    report.Baseline?.RelayedInProcesses is { P50Us: > 0 } pf ? $"{Us(f.Sequential.P50Us - pf.P50Us)} ({Us(pf.P50Us)})" : "–", $"{Us(f.EngineP50Us)} / {Us(f.EngineP99Us)}",
                    .. callerCounts.Select(n => f.Concurrent.FirstOrDefault(c => c.Callers == n) is { } c ? $"{Rate(c.Latency.PerSecond)} ({X(ThroughputShare(report, n, c))})" : "–"),
                ]);
            }
        }

        if (functionRows.Count > 0)
        {
            tables.Add(new ReportTable(
                "Function round trip (echo; RTT and floor measured in blocks alternating with each lane's, the process floor in the baseline; req/s with the share of raw NATS req/s at the same concurrency)",
                ["driver", "kind", "p50", "p90", "p99", "p50 / RTT", "p50 above the floor (the floor)", "above the baseline's process floor (it)", "engine p50 / p99", .. callerCounts.Select(n => $"{n} callers req/s")],
                functionRows));
        }

        var cpuRows = report.Drivers.SelectMany(d => d.Functions.Where(f => f.CpuPerCallUs is not null).Select(f => (IReadOnlyList<string>)[
            d.Driver, f.Kind, Us(f.CpuPerCallUs!.Bench), Us(f.CpuPerCallUs.MainNats), Us(f.CpuPerCallUs.Node), Us(f.CpuPerCallUs.InternalNats), Us(f.CpuPerCallUs.Agents), Us(f.CpuPerCallUs.Total)])).ToList();
        if (cpuRows.Count > 0)
        {
            tables.Add(new ReportTable(
                $"CPU per function call with {Bench.CpuCallers} callers (µs; /proc utime + stime over the series, 10 ms ticks)",
                ["driver", "kind", "bench", "main nats", "node", "internal nats", "agent", "total"],
                cpuRows));
        }

        var deployRows = report.Drivers.Where(d => d.Deploy is not null).Select(d => d.Deploy is { } x ? (IReadOnlyList<string>)[
            d.Driver,
            $"{Ms(x.WarmRun.P50Us)} ({X(x.WarmRunP50Ratio)})",
            X(idleRtt > 0 ? x.WarmRun.P50Us / idleRtt : 0),
            Ms(x.WarmRun.P90Us),
            Ms(x.WarmFirstAnswer.P50Us),
            $"{Ms(x.ColdRun.P50Us)} ({X(rtt > 0 ? x.ColdRun.P50Us / rtt : 0)})",
            Ms(x.ColdFirstAnswer.P50Us),
            Ms(x.Stop.P50Us),
            x.WarmRun.Count.ToString(CultureInfo.InvariantCulture),
        ] : []).ToList();
        if (deployRows.Count > 0)
        {
            tables.Add(new ReportTable(
                "Native service deploy (p50 unless noted; ratio to the NATS RTT, and to a raw request after the same idle)",
                ["driver", "warm: run reply", "warm / idle RTT", "warm p90", "warm: first answer", "cold: run reply", "cold: first answer", "stop", "runs"],
                deployRows));
        }

        if (report.ControlPlane.Count > 0)
        {
            tables.Add(new ReportTable(
                "Control plane (direct PING and INFO to one node)",
                ["live workloads", "PING p50", "PING p99", "INFO p50", "INFO p99"],
                [.. report.ControlPlane.Select(c => (IReadOnlyList<string>)[c.Workloads.ToString(CultureInfo.InvariantCulture), Ms(c.Ping.P50Us), Ms(c.Ping.P99Us), Ms(c.Info.P50Us), Ms(c.Info.P99Us)])]));
        }

        if (report.Footprint is { } fp)
        {
            var rows = new List<IReadOnlyList<string>>
            {
                new[] { "node RSS (idle, pool of 1)", MiB(fp.NodeRssMiB) },
                new[] { "internal nats-server RSS (idle)", MiB(fp.InternalNatsRssMiB) },
                new[] { $"idle agent RSS (mean / max of {fp.PoolSize})", $"{MiB(fp.IdleAgentRssMiB)} / {MiB(fp.IdleAgentRssMaxMiB)}" },
                new[] { $"pool of {fp.PoolSize} warm, from node start", $"{fp.PoolFillFromStartSeconds:0.00} s" },
                new[] { $"pool of {fp.PoolSize} warm, from node ready", $"{fp.PoolFillFromReadySeconds:0.00} s" },
            };
            foreach (var cost in fp.PerWorkload.Where(c => c.Workloads > 0))
            {
                rows.Add([$"{cost.Workloads} live native workloads: per workload", $"{MiB(cost.PerWorkloadMiB)} (tree {MiB(cost.TotalRssMiB)}: node {MiB(cost.NodeRssMiB)}, agents {MiB(cost.AgentRssMiB)}, services {MiB(cost.ServiceRssMiB)}, internal NATS {MiB(cost.InternalNatsRssMiB)}; deployed in {cost.DeployAllSeconds:0.0} s)"]);
            }

            tables.Add(new ReportTable("Footprint", ["what", "measured"], rows));
        }

        if (report.Targets.Count > 0)
        {
            tables.Add(new ReportTable(
                "Targets",
                ["target", "goal", "measured", "met"],
                [.. report.Targets.Select(t => (IReadOnlyList<string>)[t.Name, t.Target, t.Measured.ToString("0.##", CultureInfo.InvariantCulture) + (t.Unit == "×" ? "×" : " " + t.Unit), t.Met ? "yes" : "NO"])]));
        }

        return tables;
    }

    public static string Markdown(BenchReport report, string command)
    {
        var sb = new StringBuilder();
        var m = report.Machine;
        sb.Append(CultureInfo.InvariantCulture, $"Measured {report.Started:yyyy-MM-dd} on {m.Cpu}, {m.Cores} cores, {m.MemoryGiB} GiB, Linux {m.Kernel}; {m.Dotnet}; {m.NatsServer}; agent: {m.Agent}. The run took {report.DurationSeconds:0} s.\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"Reproduce with `{command}`.\n");
        foreach (var table in Build(report))
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n#### {table.Title}\n\n");
            sb.Append("| ").AppendJoin(" | ", table.Headers).Append(" |\n");
            sb.Append('|').AppendJoin('|', table.Headers.Select(_ => "---")).Append("|\n");
            foreach (var row in table.Rows)
            {
                sb.Append("| ").AppendJoin(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal))).Append(" |\n");
            }
        }

        if (report.Errors.Count > 0)
        {
            sb.Append("\nSteps that failed:\n\n");
            foreach (var error in report.Errors)
            {
                sb.Append("- ").Append(error).Append('\n');
            }
        }

        return sb.ToString();
    }

    private static double ThroughputShare(BenchReport report, int callers, ConcurrentStats stats) =>
        report.Baseline?.Concurrent.FirstOrDefault(c => c.Callers == callers) is { Latency.PerSecond: > 0 } raw ? stats.Latency.PerSecond / raw.Latency.PerSecond : 0;

    private static string Us(double micros) => micros >= 10_000 ? Ms(micros) : $"{micros.ToString("0", CultureInfo.InvariantCulture)} µs";

    private static string Ms(double micros) => $"{(micros / 1000).ToString(micros >= 100_000 ? "0" : "0.0#", CultureInfo.InvariantCulture)} ms";

    private static string X(double ratio) => $"{ratio.ToString("0.0#", CultureInfo.InvariantCulture)}×";

    private static string Rate(double perSecond) => perSecond.ToString("#,0", CultureInfo.InvariantCulture);

    private static string MiB(double mib) => $"{mib.ToString("0.0", CultureInfo.InvariantCulture)} MiB";
}
