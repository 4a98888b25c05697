using Nex.Agent.Providers.V8;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>The heap-limit decisions of a lane (no V8 runtime needed).</summary>
public sealed class V8HeapTests
{
    private const long MiB = 1024 * 1024;

    [Theory]
    [InlineData(64 * MiB, 144)]
    [InlineData(32 * MiB, 80)]
    [InlineData(8 * MiB, 32)]
    [InlineData(1, 32)]
    public void HardLimit_IsTwiceTheSoftOnePlus16MiB_AtLeast32(long max, int expectedMiB) =>
        Assert.Equal(expectedMiB, V8Heap.HardLimitMiB(max));

    [Theory]
    [InlineData(0UL, false)]
    [InlineData(32UL * MiB, false)]
    [InlineData((32UL * MiB) + 1, true)]
    [InlineData(64UL * MiB, true)]
    public void Trim_OncePastHalfTheLimit(ulong used, bool expected) =>
        Assert.Equal(expected, V8Heap.ShouldTrim(used, 64 * MiB));
}
