using System.Diagnostics;

namespace Nex.Bench;

/// <summary>Latency percentiles (microseconds) and throughput of one series of calls.</summary>
internal sealed record LatencyStats(int Count, double P50Us, double P90Us, double P99Us, double MaxUs, double MeanUs, double PerSecond)
{
    public static LatencyStats Empty { get; } = new(0, 0, 0, 0, 0, 0, 0);

    /// <summary>From Stopwatch tick samples and the wall time the series took.</summary>
    public static LatencyStats From(IReadOnlyCollection<long> ticks, TimeSpan wall)
    {
        if (ticks.Count == 0)
        {
            return Empty;
        }

        var sorted = ticks.Select(ToMicros).Order().ToArray();
        return new LatencyStats(
            sorted.Length,
            Percentile(sorted, 0.50),
            Percentile(sorted, 0.90),
            Percentile(sorted, 0.99),
            sorted[^1],
            sorted.Average(),
            wall > TimeSpan.Zero ? sorted.Length / wall.TotalSeconds : 0);
    }

    public static double ToMicros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    // Nearest rank: the value at or below which the share of samples lies.
    private static double Percentile(double[] sorted, double share) =>
        sorted[Math.Clamp((int)Math.Ceiling(share * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Throughput of <see cref="Callers"/> concurrent callers.</summary>
internal sealed record ConcurrentStats(int Callers, LatencyStats Latency);

/// <summary>Runs calls and collects their latencies.</summary>
internal static class Measure
{
    /// <summary>
    /// <paramref name="count"/> sequential calls after at least <paramref name="warmup"/> unmeasured ones that
    /// together last at least <paramref name="warmupTime"/>.
    /// </summary>
    public static async Task<LatencyStats> SequentialAsync(int warmup, TimeSpan warmupTime, int count, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        await WarmUpAsync(warmup, warmupTime, call, cancellationToken).ConfigureAwait(false);

        var samples = new List<long>(count);
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await call(cancellationToken).ConfigureAwait(false);
            samples.Add(Stopwatch.GetTimestamp() - start);
        }

        return LatencyStats.From(samples, wall.Elapsed);
    }

    /// <summary>
    /// <paramref name="count"/> sequential calls of each of <paramref name="calls"/>, in alternating blocks
    /// (<paramref name="blocks"/> of each), after warming each up as <see cref="SequentialAsync"/> does. Each block
    /// is back to back, as a sequential series is, while the series of all calls share the same minutes: on a shared
    /// VM, whose speed drifts from minute to minute (a raw round trip measured 71–168 µs in runs of one hour), a
    /// difference between two series measured a minute apart was mostly that drift.
    /// </summary>
    public static async Task<LatencyStats[]> InterleavedAsync(int warmup, TimeSpan warmupTime, int count, int blocks, IReadOnlyList<Func<CancellationToken, Task>> calls, CancellationToken cancellationToken)
    {
        foreach (var call in calls)
        {
            await WarmUpAsync(warmup, warmupTime, call, cancellationToken).ConfigureAwait(false);
        }

        var samples = calls.Select(_ => new List<long>(count)).ToArray();
        var walls = calls.Select(_ => TimeSpan.Zero).ToArray();
        var perBlock = Math.Max(1, count / Math.Max(1, blocks));
        for (var done = 0; done < count; done += perBlock)
        {
            for (var c = 0; c < calls.Count; c++)
            {
                var wall = Stopwatch.StartNew();
                for (var i = 0; i < Math.Min(perBlock, count - done); i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await calls[c](cancellationToken).ConfigureAwait(false);
                    samples[c].Add(Stopwatch.GetTimestamp() - start);
                }

                walls[c] += wall.Elapsed;
            }
        }

        return [.. samples.Select((s, c) => LatencyStats.From(s, walls[c]))];
    }

    /// <summary>At least <paramref name="count"/> unmeasured calls, going on for at least <paramref name="time"/>.</summary>
    public static async Task WarmUpAsync(int count, TimeSpan time, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        var until = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
        for (var i = 0; i < count || Stopwatch.GetTimestamp() < until; i++)
        {
            await call(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One call after each idle <paramref name="gap"/>: what a request costs when every process on its path
    /// has gone to sleep, as before a deploy (on a VM, each wake-up can cost far more than the hop itself).
    /// </summary>
    public static async Task<LatencyStats> AfterIdleAsync(TimeSpan gap, int count, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        var samples = new List<long>(count);
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await Task.Delay(gap, cancellationToken).ConfigureAwait(false);
            var start = Stopwatch.GetTimestamp();
            await call(cancellationToken).ConfigureAwait(false);
            samples.Add(Stopwatch.GetTimestamp() - start);
        }

        return LatencyStats.From(samples, wall.Elapsed);
    }

    /// <summary><paramref name="callers"/> callers, each calling in a loop for <paramref name="duration"/>.</summary>
    public static async Task<ConcurrentStats> ConcurrentAsync(int callers, TimeSpan duration, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        var all = new List<long>[callers];
        var wall = Stopwatch.StartNew();
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, callers).Select(i => Task.Run(
            async () =>
            {
                var samples = all[i] = [];
                while (Stopwatch.GetTimestamp() < end)
                {
                    var start = Stopwatch.GetTimestamp();
                    await call(cancellationToken).ConfigureAwait(false);
                    samples.Add(Stopwatch.GetTimestamp() - start);
                }
            },
            cancellationToken))).ConfigureAwait(false);
        return new ConcurrentStats(callers, LatencyStats.From(all.SelectMany(s => s).ToList(), wall.Elapsed));
    }

    /// <summary>Time one call, in microseconds.</summary>
    public static async Task<double> OnceAsync(Func<Task> call)
    {
        var start = Stopwatch.GetTimestamp();
        await call().ConfigureAwait(false);
        return LatencyStats.ToMicros(Stopwatch.GetTimestamp() - start);
    }
}
