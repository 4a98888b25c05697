using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Bench.Tests;

/// <summary>
/// A tiny run of the hardening campaign (bench/run --campaign), so it never rots. It checks that the sections it
/// runs (malformed requests, the soak) produced figures that add up, never what the figures are: the campaign measures behaviour that is
/// being changed (errors, refusals, health), and must keep running whatever it finds.
/// </summary>
public sealed class CampaignSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SmokeCampaignCountsMalformedRepliesAndSoaksAndWritesJson()
    {
        using var dir = new TempDirectory("nex-campaign-test-");
        _ = Examples.EchoService; // builds the examples when needed
        var settings = CampaignSettings.Smoke;
        var report = await new Campaign(settings, Path.Combine(Examples.RepositoryRoot, "examples"), nodeDirectory: null, output.WriteLine)
            .RunAsync(TestContext.Current.CancellationToken);

        Assert.Empty(report.Errors);

        // 1. Every malformed request was sent and sorted into exactly one category; the node kept answering.
        var malformed = report.Malformed!;
        Assert.Equal(settings.MaxMalformed, malformed.Total);
        Assert.Equal(malformed.Total, malformed.ByCategory.Values.Sum());
        Assert.Equal(malformed.Total, malformed.BySubject.Values.Sum(c => c.Values.Sum()));
        Assert.Contains("DEPLOY", malformed.BySubject.Keys);

        // 2 and 3 (isolation, survival) take minutes by themselves: bench/run --campaign --quick runs them.
        Assert.Empty(report.Isolation);
        Assert.Empty(report.Survival);

        // 4. The soak's curve from cycle 0 to the last, and the leftover counts taken.
        var soak = report.Soak!;
        Assert.Equal(0, soak.DeployFailures + soak.StopFailures);
        Assert.Equal(0, soak.Curve[0].Cycle);
        Assert.Equal(settings.Cycles, soak.Curve[^1].Cycle);
        Assert.All(soak.Curve, c => Assert.True(c.NodeRssMiB > 0 && c.InternalNatsRssMiB > 0));
        Assert.True(soak.WorkloadFilesWhileRunning > 0, "the node's TMPDIR held no workload file while two native workloads ran");

        var json = dir.File("campaign.json");
        var markdown = dir.File("campaign.md");
        await Program.WriteCampaignAsync(report, json, markdown, TestContext.Current.CancellationToken);
        using var parsed = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken));
        Assert.Equal(malformed.Total, parsed.RootElement.GetProperty("malformed").GetProperty("total").GetInt32());
        Assert.Contains("| reply |", await File.ReadAllTextAsync(markdown, TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }
}
