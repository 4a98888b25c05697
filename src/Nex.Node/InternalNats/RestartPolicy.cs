namespace Nex.Node.InternalNats;

/// <summary>How the node restarts its internal NATS server when it dies.</summary>
internal sealed record RestartPolicyOptions
{
    /// <summary>The defaults: the first death is restarted at once, later ones back off from 250 ms to 30 s.</summary>
    public static RestartPolicyOptions Default { get; } = new();

    /// <summary>Wait before restarting after a lone death (none: agents wait for it).</summary>
    public TimeSpan FirstDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Wait before the second restart in a window; doubled for each further one.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between attempts (a crash loop, or a start that keeps failing).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Deaths within <see cref="Window"/> that make a crash loop: the node reports itself unhealthy.</summary>
    public int MaxDeaths { get; init; } = 5;

    /// <summary>How far back deaths count.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>What to do after a death or a failed start.</summary>
/// <param name="Delay">Wait this long before the next start.</param>
/// <param name="Unhealthy">Whether the node must report itself unhealthy until a start succeeds.</param>
internal readonly record struct RestartDecision(TimeSpan Delay, bool Unhealthy);

/// <summary>
/// The internal server's supervision policy, apart from the process it supervises so that a fake clock
/// can drive it. A lone death is restarted at once (agents and the node reconnect within a second); deaths
/// that come close together back off exponentially, like Kubernetes' CrashLoopBackOff, and
/// <see cref="RestartPolicyOptions.MaxDeaths"/> of them in a window, or any start that fails (its port
/// taken, the binary gone), make the node unhealthy. It never gives up for good: it keeps trying at
/// <see cref="RestartPolicyOptions.MaxDelay"/>, and a start that succeeds makes the node healthy again.
/// Not thread-safe: the supervisor's one loop calls it.
/// </summary>
internal sealed class RestartPolicy(RestartPolicyOptions options, TimeProvider time)
{
    private readonly Queue<DateTimeOffset> _deaths = new();
    private int _failedStarts;

    /// <summary>Deaths within the window, this one included, after the last <see cref="OnDeath"/>.</summary>
    public int RecentDeaths => _deaths.Count;

    /// <summary>The server died (it had been running).</summary>
    public RestartDecision OnDeath()
    {
        var now = time.GetUtcNow();
        _deaths.Enqueue(now);
        while (_deaths.Count > 0 && now - _deaths.Peek() > options.Window)
        {
            _deaths.Dequeue();
        }

        _failedStarts = 0;
        var n = _deaths.Count;
        if (n >= options.MaxDeaths)
        {
            return new RestartDecision(options.MaxDelay, Unhealthy: true);
        }

        return new RestartDecision(n <= 1 ? options.FirstDelay : Backoff(n - 1), Unhealthy: false);
    }

    /// <summary>A start attempt failed.</summary>
    public RestartDecision OnStartFailed()
    {
        _failedStarts++;
        return new RestartDecision(Backoff(_failedStarts), Unhealthy: true);
    }

    /// <summary>A start succeeded: failed starts no longer count (deaths still do, within their window).</summary>
    public void OnStarted() => _failedStarts = 0;

    private TimeSpan Backoff(int attempt) => Nex.Node.Backoff.Exponential(options.BaseDelay, options.MaxDelay, attempt);
}
