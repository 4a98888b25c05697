using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Bench.Tests;

/// <summary>
/// A tiny run of the whole harness, so it never rots. It checks that every step produced figures,
/// never how fast they are: speed is the harness's business, not the test suite's.
/// </summary>
public sealed class BenchSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SmokeRunMeasuresEveryStepAndWritesJsonAndMarkdown()
    {
        using var dir = new TempDirectory("nex-bench-test-");
        _ = Examples.EchoService; // builds the examples when needed
        var report = await Program.RunAsync(BenchSettings.Smoke, Path.Combine(Examples.RepositoryRoot, "examples"), output.WriteLine, TestContext.Current.CancellationToken);

        Assert.Empty(report.Errors);
        Assert.True(report.Baseline!.Sequential.Count > 0);
        Assert.Equal(BenchSettings.Smoke.IdleSamples, report.Baseline.AfterIdle.Count);
        Assert.Equal(BenchSettings.Smoke.CallerCounts.Count, report.Baseline.Concurrent.Count);
        Assert.Equal(BenchSettings.Smoke.Samples, report.Baseline.Relayed!.Count);
        var driver = Assert.Single(report.Drivers);
        Assert.Equal("none", driver.Driver);
        Assert.Equal(["v8", "v8-reuse", "wasm"], driver.Functions.Select(f => f.Kind));
        Assert.All(driver.Functions, f => Assert.True(f.Sequential.Count == BenchSettings.Smoke.Samples && f.P50Ratio > 0));
        Assert.Equal(BenchSettings.Smoke.Samples, report.Baseline.RelayedInProcesses!.Count);
        Assert.All(driver.Functions, f => Assert.Equal(BenchSettings.Smoke.Samples, f.PairedFloor!.Count));
        Assert.True(driver.Deploy!.WarmRun.Count == 1 && driver.Deploy.ColdFirstAnswer.Count == 1 && driver.Deploy.Stop.Count == 2);
        Assert.Equal([0, 2], report.ControlPlane.Select(c => c.Workloads));
        Assert.True(report.Footprint!.NodeRssMiB > 0 && report.Footprint.IdleAgentRssMiB > 0 && report.Footprint.PoolFillFromStartSeconds > 0);
        Assert.Contains(report.Footprint.PerWorkload, c => c.Workloads == 2 && c.AgentRssMiB > 0 && c.ServiceRssMiB > 0);
        Assert.Equal(14, report.Targets.Count); // 3 ratios, v8 (floor, p99, 8 callers), v8-reuse and wasm (floor, 8 callers), deploy, PING, INFO, RSS
        Assert.Contains(report.Targets, t => t.Name == "wasm echo p50 above the floor" && t.Unit == "µs");
        Assert.Contains(report.Targets, t => t.Name == "wasm echo req/s, 8 callers" && t.Unit == "req/s");

        // The files a full run writes.
        var json = dir.File("results.json");
        var markdown = dir.File("BENCHMARKS.md");
        await File.WriteAllTextAsync(markdown, $"# Benchmarks\n\nintro\n\n{Program.MarkdownBegin}\nold\n{Program.MarkdownEnd}\n\nanalysis\n", TestContext.Current.CancellationToken);
        await Program.WriteAsync(report, json, markdown, TestContext.Current.CancellationToken);
        using var parsed = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken));
        Assert.True(parsed.RootElement.GetProperty("baseline").GetProperty("sequential").GetProperty("p50_us").GetDouble() > 0);
        var text = await File.ReadAllTextAsync(markdown, TestContext.Current.CancellationToken);
        Assert.StartsWith("# Benchmarks\n\nintro\n\n", text, StringComparison.Ordinal);
        Assert.EndsWith("\n\nanalysis\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\nold\n", text, StringComparison.Ordinal);
        Assert.Contains("| target | goal | measured | met |", text, StringComparison.Ordinal);
    }
}
