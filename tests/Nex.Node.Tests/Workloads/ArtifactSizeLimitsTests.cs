using Nex.Node.Config;
using Nex.Node.Workloads;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>The node's size limits on artifacts (spec §1.8.2 step 13), without a store.</summary>
public sealed class ArtifactSizeLimitsTests
{
    [Theory]
    [InlineData(0, 0, 1_000_000, 1_000_000)] // 0: unlimited
    [InlineData(100, 0, 100, 1_000_000)]     // at the limit
    [InlineData(0, 300, 100, 200)]           // the total exactly
    public void ArtifactsWithinTheLimits_Pass(long perWorkload, long total, long size, long running) =>
        ArtifactLoader.CheckSizeLimits(new NodeLimits { MaxWorkloadBytes = perWorkload, MaxTotalBytes = total }, size, running);

    [Fact]
    public void AnArtifactOverTheWorkloadLimit_IsRefused() =>
        Assert.Equal(
            "Workload file size would exceed node limitations",
            Assert.Throws<ControlRejectedException>(() => ArtifactLoader.CheckSizeLimits(new NodeLimits { MaxWorkloadBytes = 100, MaxTotalBytes = 50 }, 101, 0)).Message);

    [Fact]
    public void AnArtifactThatWouldPassTheTotal_IsRefused() =>
        Assert.Equal(
            "Workload file size would exceed node total limitations",
            Assert.Throws<ControlRejectedException>(() => ArtifactLoader.CheckSizeLimits(new NodeLimits { MaxTotalBytes = 300 }, 101, 200)).Message);
}
