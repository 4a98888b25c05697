namespace Nex.Agent.Providers.V8;

/// <summary>
/// How long a function's last call took, shared by its lanes: decides whether the next call may run on the trigger's
/// thread (<see cref="V8Options.InlineBelow"/>). Written by whichever lane finished a call, read by the trigger's
/// thread; a hint, so a plain volatile value is enough.
/// </summary>
internal sealed class V8RecentCalls
{
    // Ticks of the last call; -1 until a call has finished (an unknown function is not assumed quick).
    private long _lastTicks = -1;

    /// <summary>Records a finished call (including a failed or timed-out one: it held its thread as long).</summary>
    /// <param name="elapsed">The call's time from start to finish.</param>
    public void Record(TimeSpan elapsed) => Volatile.Write(ref _lastTicks, Math.Max(0, elapsed.Ticks));

    /// <summary>Whether the last call finished in less than <paramref name="limit"/>.</summary>
    /// <param name="limit">The bound; zero or less is never met.</param>
    /// <returns>False before the first call has finished.</returns>
    public bool LastWasUnder(TimeSpan limit)
    {
        var last = Volatile.Read(ref _lastTicks);
        return last >= 0 && last < limit.Ticks;
    }
}
