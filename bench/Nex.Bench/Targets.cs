namespace Nex.Bench;

/// <summary>The targets of issues 5 and 18, checked against the first (default) driver's figures.</summary>
internal static class Targets
{
    public const double FunctionRatio = 3.0;
    public const double WarmDeployRatio = 15.0;
    public const double ControlP99Ms = 50;
    public const double IdleAgentMiB = 40;

    /// <summary>Issue 18, per function lane: p50 above the floor (µs), p99 (ms, or 0 for none), req/s with 8 callers.</summary>
    public static readonly IReadOnlyDictionary<string, (double AboveFloorUs, double P99Ms, double PerSecondAt8)> Functions =
        new Dictionary<string, (double, double, double)>
        {
            ["v8"] = (300, 3, 2_000),
            ["v8-reuse"] = (100, 0, 5_000),
            ["wasm"] = (100, 0, 10_000),
        };

    public static void Evaluate(BenchReport report)
    {
        var driver = report.Drivers.FirstOrDefault();
        foreach (var function in driver?.Functions ?? [])
        {
            var floor = function.FloorP50Us(report) is > 0 and var paired ? paired : (double?)null;
            Add(report, $"{function.Kind} echo p50 / NATS RTT", $"≤ {FunctionRatio:0.0}×", function.P50Ratio, "×", function.P50Ratio <= FunctionRatio);
            if (!Functions.TryGetValue(function.Kind, out var goal))
            {
                continue;
            }

            if (floor is { } f)
            {
                var above = function.Sequential.P50Us - f;
                Add(report, $"{function.Kind} echo p50 above the floor", $"≤ {goal.AboveFloorUs:0} µs", above, "µs", above <= goal.AboveFloorUs);
            }

            if (goal.P99Ms > 0)
            {
                Add(report, $"{function.Kind} echo p99", $"≤ {goal.P99Ms:0} ms", function.Sequential.P99Us / 1000, "ms", function.Sequential.P99Us / 1000 <= goal.P99Ms);
            }

            if (function.Concurrent.FirstOrDefault(c => c.Callers == 8) is { } eight)
            {
                Add(report, $"{function.Kind} echo req/s, 8 callers", $"≥ {goal.PerSecondAt8:#,0}", eight.Latency.PerSecond, "req/s", eight.Latency.PerSecond >= goal.PerSecondAt8);
            }
        }


        if (driver?.Deploy is { } deploy)
        {
            Add(report, "warm native deploy p50 / NATS RTT", $"≤ {WarmDeployRatio:0}×", deploy.WarmRunP50Ratio, "×", deploy.WarmRunP50Ratio <= WarmDeployRatio);
        }

        if (report.ControlPlane.Count > 0)
        {
            var busiest = report.ControlPlane.MaxBy(c => c.Workloads)!;
            Add(report, $"PING p99, {busiest.Workloads} workloads", $"< {ControlP99Ms:0} ms", busiest.Ping.P99Us / 1000, "ms", busiest.Ping.P99Us / 1000 < ControlP99Ms);
            Add(report, $"INFO p99, {busiest.Workloads} workloads", $"< {ControlP99Ms:0} ms", busiest.Info.P99Us / 1000, "ms", busiest.Info.P99Us / 1000 < ControlP99Ms);
        }

        if (report.Footprint is { IdleAgentRssMiB: > 0 } footprint)
        {
            Add(report, "idle agent RSS", $"≤ {IdleAgentMiB:0} MiB", footprint.IdleAgentRssMiB, "MiB", footprint.IdleAgentRssMiB <= IdleAgentMiB);
        }
    }

    private static void Add(BenchReport report, string name, string target, double measured, string unit, bool met) =>
        report.Targets.Add(new TargetResult(name, target, Math.Round(measured, 2), unit, met));
}
