namespace Nex.Node;

/// <summary>The node's one exponential backoff: essential restarts, agent starts, internal NATS restarts.</summary>
internal static class Backoff
{
    /// <summary><paramref name="first"/> doubled for each attempt after the first, at most <paramref name="max"/>.</summary>
    /// <param name="first">The delay before attempt 1.</param>
    /// <param name="max">The longest delay.</param>
    /// <param name="attempt">The attempt, 1-based (smaller counts as 1).</param>
    /// <returns>The delay.</returns>
    public static TimeSpan Exponential(TimeSpan first, TimeSpan max, int attempt)
    {
        var ticks = first.Ticks * Math.Pow(2, Math.Clamp(attempt, 1, 31) - 1);
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }
}
