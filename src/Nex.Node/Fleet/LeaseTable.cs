using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>
/// Which nodes are alive, judged by this node's own clock (never by the time a lease says it was written: clocks
/// of different hosts differ). A node is alive until this node has heard its own lease renewed a full grace after the
/// last update of the other's; a node never seen, or whose lease is gone, counts as dead once this node has heard
/// itself a full grace after it started watching. Silence counts only while this node can hear: a watch that stalls
/// (as one can for a while after a partition heals) hears this node's own renewals no more either, and then nobody is
/// judged dead. This node is always alive to itself. Thread-safe: the watch writes, the rescheduler reads.
/// </summary>
internal sealed class LeaseTable(string selfId, TimeProvider time, TimeSpan grace)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (NodeLease Lease, long ReceivedAt)> _leases = new(StringComparer.Ordinal);
    private long? _watchingSince;
    private long? _heardSelfAt;

    /// <summary>The grace a silent node keeps.</summary>
    public TimeSpan Grace => grace;

    /// <summary>
    /// (Re)starts the judgement: called when the watch starts and whenever this node was cut off from NATS. Silence
    /// heard while this node could not listen is its own, so every node known gets a fresh grace from now.
    /// </summary>
    public void Restart()
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            _watchingSince = now;
            foreach (var id in _leases.Keys.ToList())
            {
                _leases[id] = (_leases[id].Lease, now);
            }
        }
    }

    /// <summary>An update of a node's lease was received now.</summary>
    public void Observe(NodeLease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var now = time.GetTimestamp();
        lock (_gate)
        {
            _leases[lease.NodeId] = (lease, now);
            if (string.Equals(lease.NodeId, selfId, StringComparison.Ordinal))
            {
                _heardSelfAt = now;
            }
        }
    }

    /// <summary>A node's lease is gone (deleted, or expired with the bucket's max age).</summary>
    public void Remove(string nodeId)
    {
        lock (_gate)
        {
            _leases.Remove(nodeId);
        }
    }

    /// <summary>True while <paramref name="nodeId"/> counts as alive.</summary>
    public bool IsAlive(string nodeId)
    {
        if (string.Equals(nodeId, selfId, StringComparison.Ordinal))
        {
            return true;
        }

        lock (_gate)
        {
            if (_leases.TryGetValue(nodeId, out var known))
            {
                return !SilentForTheGrace(known.ReceivedAt);
            }

            // Never seen: not judged until this node has watched for a full grace (it may just have started).
            return _watchingSince is not { } since || !SilentForTheGrace(since);
        }
    }

    /// <summary>The leases of the other nodes that count as alive now.</summary>
    public IReadOnlyList<NodeLease> AliveOthers()
    {
        lock (_gate)
        {
            return _leases
                .Where(l => !string.Equals(l.Key, selfId, StringComparison.Ordinal) && !SilentForTheGrace(l.Value.ReceivedAt))
                .Select(l => l.Value.Lease)
                .ToList();
        }
    }

    /// <summary>The last lease received from <paramref name="nodeId"/>, or null.</summary>
    public NodeLease? LeaseOf(string nodeId)
    {
        lock (_gate)
        {
            return _leases.TryGetValue(nodeId, out var known) ? known.Lease : null;
        }
    }

    // Nothing heard since `since`, while this node heard its own renewal a full grace after it.
    private bool SilentForTheGrace(long since) =>
        _heardSelfAt is { } heard && time.GetElapsedTime(since, heard) >= grace;
}
