using Nex.Protocol;

namespace Nex.Node.Telemetry;

/// <summary>
/// One function's calls as the node relays them, for INFO's <c>calls</c> (<see cref="CallStats"/>): totals since the
/// deploy, a rate over the last 10 s, and round-trip percentiles over the most recent calls. Recording is lock-free
/// and allocation-free (the V8/WASM lane relays thousands of calls a second); reading copies and sorts at most
/// <see cref="Samples"/> numbers, which INFO can afford.
/// </summary>
/// <param name="time">The node's clock (timestamps).</param>
internal sealed class CallWindow(TimeProvider time)
{
    /// <summary>Round trips kept for the percentiles (a power of two: the ring index is a mask).</summary>
    internal const int Samples = 1024;

    private const int RateSeconds = 10;

    // More slots than the rate window, so a slot is never reused while it is still being summed.
    private const int Slots = 16;

    private static readonly TimeSpan SampleMaxAge = TimeSpan.FromMinutes(1);

    private readonly long[] _micros = new long[Samples];
    private readonly long[] _at = new long[Samples];
    private readonly long[] _slotSecond = [.. Enumerable.Repeat(-1L, Slots)];
    private readonly long[] _slotCount = new long[Slots];
    private readonly long _createdAt = time.GetTimestamp();
    private long _next;
    private long _total;
    private long _errors;
    private long _hostServiceCalls;

    /// <summary>A timestamp to pass to <see cref="Record"/> when the call ends.</summary>
    public long Start() => time.GetTimestamp();

    /// <summary>Records one relayed call that began at <paramref name="startedAt"/> (from <see cref="Start"/>).</summary>
    /// <returns>The round trip.</returns>
    public TimeSpan Record(long startedAt, bool failed)
    {
        var now = time.GetTimestamp();
        var elapsed = time.GetElapsedTime(startedAt, now);
        Interlocked.Increment(ref _total);
        if (failed)
        {
            Interlocked.Increment(ref _errors);
        }

        var i = (int)((Interlocked.Increment(ref _next) - 1) & (Samples - 1));
        Volatile.Write(ref _micros[i], (long)elapsed.TotalMicroseconds);
        Volatile.Write(ref _at[i], now);
        CountInSecond(now);
        return elapsed;
    }

    /// <summary>Counts one host-service call of the function.</summary>
    public void RecordHostServiceCall() => Interlocked.Increment(ref _hostServiceCalls);

    /// <summary>The stats as INFO reports them.</summary>
    public CallStats Read()
    {
        var now = time.GetTimestamp();
        var (p50, p99) = Percentiles(now);
        return new CallStats
        {
            Total = Interlocked.Read(ref _total),
            Errors = Interlocked.Read(ref _errors),
            PerSecond = Math.Round(PerSecond(now), 2),
            P50Micros = p50,
            P99Micros = p99,
            HostServiceCalls = Interlocked.Read(ref _hostServiceCalls),
        };
    }

    private long SecondOf(long timestamp) => (long)time.GetElapsedTime(_createdAt, timestamp).TotalSeconds;

    // A slot is claimed for its second by the first call in it, which clears the count. A call that races the claim
    // may land before the clear and be lost from the rate (never from the totals): cheap beats exact here.
    private void CountInSecond(long now)
    {
        var second = SecondOf(now);
        var slot = (int)(second % Slots);
        var seen = Volatile.Read(ref _slotSecond[slot]);
        if (seen != second && Interlocked.CompareExchange(ref _slotSecond[slot], second, seen) == seen)
        {
            Interlocked.Exchange(ref _slotCount[slot], 0);
        }

        Interlocked.Increment(ref _slotCount[slot]);
    }

    // Calls in the last 10 whole-or-current seconds, over the time they cover (less for a function just deployed).
    private double PerSecond(long now)
    {
        var current = SecondOf(now);
        long calls = 0;
        for (var slot = 0; slot < Slots; slot++)
        {
            var second = Volatile.Read(ref _slotSecond[slot]);
            if (second > current - RateSeconds && second <= current)
            {
                calls += Volatile.Read(ref _slotCount[slot]);
            }
        }

        var alive = time.GetElapsedTime(_createdAt, now).TotalSeconds;
        var covered = Math.Min(alive, RateSeconds - 1 + (alive - current));
        return calls / Math.Max(1.0, covered);
    }

    private (long P50, long P99) Percentiles(long now)
    {
        var written = (int)Math.Min(Interlocked.Read(ref _next), Samples);
        if (written == 0)
        {
            return (0, 0);
        }

        var recent = new long[written];
        var count = 0;
        for (var i = 0; i < written; i++)
        {
            if (time.GetElapsedTime(Volatile.Read(ref _at[i]), now) <= SampleMaxAge)
            {
                recent[count++] = Volatile.Read(ref _micros[i]);
            }
        }

        if (count == 0)
        {
            return (0, 0);
        }

        Array.Sort(recent, 0, count);
        return (recent[Rank(0.50, count)], recent[Rank(0.99, count)]);
    }

    // Nearest rank: the smallest value with at least p of the samples at or below it.
    private static int Rank(double p, int count) => Math.Clamp((int)Math.Ceiling(p * count) - 1, 0, count - 1);
}
