namespace Nex.Bench;

/// <summary>The targets of issues 5 and 18, checked against the first (default) driver's figures.</summary>
internal static class Targets
{
    public const double FunctionRatio = 3.0;
    public const double WarmDeployRatio = 15.0;
    public const double ControlP99Ms = 50;
    public const double IdleAgentMiB = 40;

    /// <summary>Issue 18: WASM p50 at most this far above the floor (a raw request relayed once), µs.</summary>
    public const double WasmAboveFloorUs = 100;

    /// <summary>Issue 18: WASM calls per second with 8 callers, at least.</summary>
    public const double WasmPerSecond8 = 10_000;

    public static void Evaluate(BenchReport report)
    {
        var driver = report.Drivers.FirstOrDefault();
        foreach (var function in driver?.Functions ?? [])
        {
            Add(report, $"{function.Kind} echo p50 / NATS RTT", $"≤ {FunctionRatio:0.0}×", function.P50Ratio, "×", function.P50Ratio <= FunctionRatio);
        }

        if (driver?.Functions.FirstOrDefault(f => f.Kind == "wasm") is { } wasm)
        {
            if (report.Baseline?.Relayed is { P50Us: > 0 } floor)
            {
                var above = wasm.Sequential.P50Us - floor.P50Us;
                Add(report, "wasm echo p50 above the floor", $"≤ {WasmAboveFloorUs:0} µs", above, "µs", above <= WasmAboveFloorUs);
            }

            if (wasm.Concurrent.FirstOrDefault(c => c.Callers == 8) is { } eight)
            {
                Add(report, "wasm echo req/s, 8 callers", $"≥ {WasmPerSecond8:#,0}", eight.Latency.PerSecond, "req/s", eight.Latency.PerSecond >= WasmPerSecond8);
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
