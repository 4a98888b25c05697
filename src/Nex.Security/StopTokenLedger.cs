namespace Nex.Security;

/// <summary>
/// The stop tokens (<c>jti</c>) that already stopped a workload, so a captured one cannot stop another
/// deployment of the same name and issuer. A token is remembered only while <see cref="StopRule"/> would
/// still find it fresh (its <c>iat</c> plus <see cref="StopRule.MaxAge"/>): after that the freshness rule
/// refuses it anyway, so memory stays bounded by the stops of the last few minutes.
/// </summary>
/// <param name="time">The node's clock.</param>
public sealed class StopTokenLedger(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _used = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _forget = new();

    /// <summary>How many tokens are remembered now (after forgetting the expired ones).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                Forget(time.GetUtcNow().ToUnixTimeSeconds());
                return _used.Count;
            }
        }
    }

    /// <summary>Records <paramref name="stop"/>'s <c>jti</c> as used; false when it already was.</summary>
    /// <param name="stop">The claims of a stop that passed <see cref="StopRule"/>.</param>
    /// <returns>True the first time a <c>jti</c> is seen within its freshness window.</returns>
    public bool TryConsume(WorkloadClaims stop)
    {
        ArgumentNullException.ThrowIfNull(stop);
        lock (_gate)
        {
            Forget(time.GetUtcNow().ToUnixTimeSeconds());
            var until = stop.Iat + (long)StopRule.MaxAge.TotalSeconds;
            if (!_used.TryAdd(stop.Jti, until))
            {
                return false;
            }

            _forget.Enqueue(stop.Jti, until);
            return true;
        }
    }

    private void Forget(long now)
    {
        // A token is still fresh at exactly iat + MaxAge: forget it only after that second.
        while (_forget.TryPeek(out var jti, out var until) && until < now)
        {
            _forget.Dequeue();
            _used.Remove(jti);
        }
    }
}
