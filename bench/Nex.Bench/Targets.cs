namespace Nex.Bench;

/// <summary>The targets of issue 5, checked against the first (default) driver's figures.</summary>
internal static class Targets
{
    public const double FunctionRatio = 3.0;
    public const double WarmDeployRatio = 15.0;
    public const double ControlP99Ms = 50;
    public const double IdleAgentMiB = 40;

    public static void Evaluate(BenchReport report)
    {
        var driver = report.Drivers.FirstOrDefault();
        foreach (var function in driver?.Functions ?? [])
        {
            Add(report, $"{function.Kind} echo p50 / NATS RTT", $"≤ {FunctionRatio:0.0}×", function.P50Ratio, "×", function.P50Ratio <= FunctionRatio);
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
