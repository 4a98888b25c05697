using Nex.Agent.Providers.V8;
using Nex.Protocol;
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

/// <summary>Runs alone: it starves the thread pool on purpose, which would hold up every other test.</summary>
[CollectionDefinition(nameof(StarvesThePool), DisableParallelization = true)]
public sealed class StarvesThePool;

/// <summary>The heap limit when ClearScript's sampler (a thread-pool timer) runs late.</summary>
[Collection(nameof(StarvesThePool))]
public sealed class V8HeapLimitUnderLoadTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task ARunawayAllocation_WhileThePoolIsBusy_FailsThatCall_AndDoesNotKillTheProcess()
    {
        // The soft limit is sampled on a thread-pool timer. Busy pool threads (a loaded agent, a loaded CI
        // machine) held the sample back; the script reached V8's hard limit first, and V8 aborted the whole
        // process ("Fatal JavaScript out of memory"). Seen in CI as a test host crash (exit 134).
        await using var fn = await V8Harness.StartAsync(
            "(s, p) => { if (s === 'hog') { const a = []; for (;;) { a.push({ i: a.length, s: 'x'.repeat(64) + a.length }); } } return s; }",
            TestContext.Current.CancellationToken,
            new V8Options { MaxMemoryBytes = 32 * MiB, Timeout = TimeSpan.FromSeconds(60) });

        // Every pool thread, and the ones the pool adds, busy for 3 s: the sampler's callbacks queue behind them.
        // Before the fix the hog reached the hard limit (80 MiB) in about 1.5 s of that.
        // Not disposed: a blocker still waking when the test ends would throw on a pool thread, and take the process.
        var release = new ManualResetEventSlim();
        var blockers = ThreadPool.ThreadCount + 8;
        for (var i = 0; i < blockers; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ => release.Wait(), null);
        }

        var releaser = new Thread(() =>
        {
            Thread.Sleep(3000);
            release.Set();
        }) { IsBackground = true };
        releaser.Start();

        var result = await fn.Provider.ExecuteAsync("hog", default, TestContext.Current.CancellationToken);
        releaser.Join();
        FunctionFailure.Is(result, FunctionErrors.OutOfMemory);
        Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", TestContext.Current.CancellationToken));
    }
}
