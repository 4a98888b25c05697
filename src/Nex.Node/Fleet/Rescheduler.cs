using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Events;
using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>
/// On every node, every heartbeat: the workloads of dead nodes (and those a draining node handed off) are claimed
/// by exactly one live node and run there; a copy running here whose record now names another node is stopped
/// (partition healing). Claims are compare-and-set on the record's revision; candidates claim in
/// <see cref="ClaimOrder"/>, rank r only once the orphan has been seen for r heartbeats, so a failed or slow first
/// choice is covered without a race of every node at once. A record is never removed here: one that cannot run is
/// put back as it was, reported, and tried again by this node only after a backoff (30 s doubling to 5 min).
/// Autostart records are not moved: each node's config owns its autostart workloads.
/// </summary>
internal sealed partial class Rescheduler : IAsyncDisposable
{
    /// <summary>The reason reported when a record's environment does not open here.</summary>
    public const string SealedElsewhere = "environment is sealed to another node's xkey; share the nexus xkey (--xkey-seed) to reschedule";

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(30); // or five graces, when shorter
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    private readonly DesiredStateStore _store;
    private readonly NodeLeases _leases;
    private readonly WorkloadManager _workloads;
    private readonly NodeState _node;
    private readonly EventPublisher _events;
    private readonly INatsConnection _nats;
    private readonly ILogger _logger;
    private readonly Dictionary<string, long> _orphanedSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Since, TimeSpan Wait)> _backoff = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _heal = new(1, 1);
    private HashSet<string> _missing = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private long _disconnects;
    private Task _ticking = Task.CompletedTask;
    private readonly DesiredWatch _desired;

    public Rescheduler(DesiredStateStore store, NodeLeases leases, WorkloadManager workloads, NodeState node, EventPublisher events, INatsConnection nats, ILogger logger)
    {
        _store = store;
        _leases = leases;
        _workloads = workloads;
        _node = node;
        _events = events;
        _nats = nats;
        _logger = logger;
        _disconnects = node.MainNatsDisconnects();
        _desired = new DesiredWatch(store, leases.Heartbeat, node.Time, OnWrittenAsync, logger);
    }

    /// <summary>Starts the heartbeat ticks and the watch of the desired state (nothing without leases).</summary>
    public void Start()
    {
        if (_store.Unavailable is not null || _leases.Unavailable is not null)
        {
            return;
        }

        _desired.Start();
        _ticking = Task.Run(TickLoopAsync, CancellationToken.None);
    }

    private async Task TickLoopAsync()
    {
        using var timer = new PeriodicTimer(_leases.Heartbeat, _node.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await TickAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !_stopping.IsCancellationRequested)
                {
                    LogTickFailed(_logger, ex.Message); // never the node's end: the next tick tries again
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One look at the desired state: heal, then claim what is orphaned and this node's turn.</summary>
    internal async Task TickAsync(CancellationToken cancellationToken)
    {
        if (_nats.ConnectionState != NatsConnectionState.Open)
        {
            return; // cut off: what this node would see is stale, and it could write nothing
        }

        // Back from a disconnect: the silence of the others was ours; judge them afresh.
        var disconnects = _node.MainNatsDisconnects();
        if (disconnects != _disconnects)
        {
            _disconnects = disconnects;
            _leases.Table.Restart();
            _desired.Restart(); // a full read: what changed while this node was away
            _orphanedSince.Clear();
        }

        if (_desired.Snapshot is not { } entries)
        {
            return; // still reading
        }

        await HealAsync(entries, cancellationToken).ConfigureAwait(false);
        if (!_node.Config.Fleet.Reschedule || _node.IsLameDuck)
        {
            _orphanedSince.Clear();
            return; // a lame duck (or a node told not to) claims nothing
        }

        await ClaimOrphansAsync(entries, cancellationToken).ConfigureAwait(false);
    }

    private async Task ClaimOrphansAsync(IReadOnlyList<DesiredEntry> entries, CancellationToken cancellationToken)
    {
        var me = _node.NodeId;
        var table = _leases.Table;
        var candidates = table.AliveOthers().Where(l => !l.LameDuck && l.Reschedules).Select(l => l.NodeId).Append(me).ToList();
        var orphans = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var record = entry.Workload;
            if (record.Origin == DesiredState.OriginAutostart
                || string.Equals(record.NodeId, me, StringComparison.Ordinal)
                || (!record.Handoff && table.IsAlive(record.NodeId)))
            {
                continue;
            }

            orphans.Add(entry.Key);
            var now = _node.Time.GetTimestamp();
            if (!_orphanedSince.TryGetValue(entry.Key, out var since))
            {
                _orphanedSince[entry.Key] = since = now;
                LogOrphaned(_logger, record.Name, entry.Key, record.NodeId, record.Handoff ? "handed off" : "dead");
            }

            if (_backoff.TryGetValue(entry.Key, out var backoff) && _node.Time.GetElapsedTime(backoff.Since) < backoff.Wait)
            {
                continue;
            }

            var order = ClaimOrder.Rank(entry.Key, candidates.Where(c => !string.Equals(c, record.NodeId, StringComparison.Ordinal)), node => RunsCopy(entries, entry, node));
            var rank = order.IndexOf(me);
            if (rank < 0 || _node.Time.GetElapsedTime(since) < _leases.Heartbeat * rank)
            {
                continue;
            }

            await ClaimAsync(entry, cancellationToken).ConfigureAwait(false);
        }

        foreach (var gone in _orphanedSince.Keys.Where(k => !orphans.Contains(k)).ToList())
        {
            _orphanedSince.Remove(gone);
        }

        foreach (var gone in _backoff.Keys.Where(k => !orphans.Contains(k)).ToList())
        {
            _backoff.Remove(gone);
        }
    }

    // A node runs a copy when another record of the same namespace and name names it.
    private static bool RunsCopy(IReadOnlyList<DesiredEntry> entries, DesiredEntry orphan, string node) =>
        entries.Any(e => !string.Equals(e.Key, orphan.Key, StringComparison.Ordinal)
            && string.Equals(e.Workload.NodeId, node, StringComparison.Ordinal)
            && string.Equals(e.Workload.Namespace, orphan.Workload.Namespace, StringComparison.Ordinal)
            && string.Equals(e.Workload.Name, orphan.Workload.Name, StringComparison.Ordinal));

    private async Task ClaimAsync(DesiredEntry entry, CancellationToken cancellationToken)
    {
        var original = entry.Workload;
        var claimed = original with { NodeId = _node.NodeId, Handoff = false, UpdatedAt = _node.Time.GetUtcNow() };
        if (await _store.TryClaimAsync(entry.Key, entry.Revision, claimed, cancellationToken).ConfigureAwait(false) is not { } revision)
        {
            _orphanedSince.Remove(entry.Key); // another node was faster (or the record changed): seen afresh next tick
            return;
        }

        var outcome = await Replay.RunAsync(_workloads, _node, new DesiredEntry(entry.Key, claimed, revision), cancellationToken).ConfigureAwait(false);
        if (outcome.Succeeded)
        {
            _orphanedSince.Remove(entry.Key);
            _backoff.Remove(entry.Key);
            LogRescheduled(_logger, original.Name, entry.Key, original.NodeId, outcome.WorkloadId!);
            await _events.PublishAsync(
                original.Namespace,
                EventTypes.WorkloadRescheduled,
                new WorkloadRescheduledEvent { Key = entry.Key, Name = original.Name, FromNode = original.NodeId, ToNode = _node.NodeId, WorkloadId = outcome.WorkloadId! },
                NexJson.Context.WorkloadRescheduledEvent,
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }

        // Put it back as it was (only if still at our claim), so its node can recover it and another node can try.
        _workloads.Release(entry.Key);
        var returned = await _store.TryClaimAsync(entry.Key, revision, original, cancellationToken).ConfigureAwait(false) is not null;
        var reason = outcome.Cause == Rejection.Environment ? SealedElsewhere : outcome.Error!;
        var wait = _backoff.TryGetValue(entry.Key, out var previous) ? TimeSpan.FromTicks(Math.Min(previous.Wait.Ticks * 2, MaxBackoff.Ticks)) : TimeSpan.FromTicks(Math.Min(FirstBackoff.Ticks, _leases.Table.Grace.Ticks * 5));
        _backoff[entry.Key] = (_node.Time.GetTimestamp(), wait);
        LogRescheduleFailed(_logger, original.Name, entry.Key, original.NodeId, reason, returned ? "record returned" : "record changed meanwhile, left as it is", wait.TotalSeconds);
        await Recovery.PublishFailedAsync(_events, _node, entry.Key, original, reason, cancellationToken).ConfigureAwait(false);
    }

    // A record written elsewhere for a workload running here: stop the copy as soon as it is seen.
    private async Task OnWrittenAsync(DesiredEntry entry)
    {
        if (MovedAway(entry) && _workloads.RunningDesiredKeys.Contains(entry.Key))
        {
            await SupersedeAsync(entry.Key, entry.Workload.NodeId).ConfigureAwait(false);
        }
    }

    // The record names another node, and it is newer than what this node last wrote or claimed (the copy of the
    // bucket may lag behind this node's own claim by a moment: an older record says nothing). A record this node
    // released itself (a drain's handoff) is the drain's to end, once the taker's copy runs (make-before-break).
    private bool MovedAway(DesiredEntry entry) =>
        !string.Equals(entry.Workload.NodeId, _node.NodeId, StringComparison.Ordinal)
        && _workloads.RecordOf(entry.Key) is not { Workload.Handoff: true }
        && (_workloads.RecordOf(entry.Key) is not { } held || entry.Revision > held.Revision);

    /// <summary>Stops the copies running here whose records are gone or name another node now.</summary>
    private async Task HealAsync(IReadOnlyList<DesiredEntry> entries, CancellationToken cancellationToken)
    {
        var me = _node.NodeId;
        var byKey = entries.ToDictionary(e => e.Key, StringComparer.Ordinal);
        var missing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in _workloads.RunningDesiredKeys.Union(_workloads.HeldDesiredKeys).ToList())
        {
            if (byKey.TryGetValue(key, out var entry))
            {
                if (MovedAway(entry))
                {
                    await SupersedeAsync(key, entry.Workload.NodeId).ConfigureAwait(false);
                }

                continue;
            }

            // Not in the copy: gone only if it is still missing a heartbeat later (a record just written may not have
            // arrived yet) and a read of the key itself agrees. Keys this node holds no record of are not judged.
            if (_workloads.RecordOf(key) is null || !missing.Add(key) || !_missing.Contains(key))
            {
                continue;
            }

            var (read, now) = await _store.TryGetAsync(key, cancellationToken).ConfigureAwait(false);
            if (read && (now is null || !string.Equals(now.Workload.NodeId, me, StringComparison.Ordinal)))
            {
                await SupersedeAsync(key, now?.Workload.NodeId).ConfigureAwait(false);
            }
        }

        _missing = missing;
    }

    private async Task SupersedeAsync(string key, string? owner)
    {
        await _heal.WaitAsync().ConfigureAwait(false);
        try
        {
            if (await _workloads.SupersedeAsync(key).ConfigureAwait(false))
            {
                LogHealed(_logger, key, owner ?? "(record removed)");
            }
        }
        finally
        {
            _heal.Release();
        }
    }

    /// <summary>Stops ticking and watching (the workloads stay, as does every record).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _ticking.ConfigureAwait(false);
        await _desired.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _heal.Dispose();
    }

    [LoggerMessage(EventId = 930, Level = LogLevel.Information, Message = "Rescheduled workload {Name} ({Key}) from node {From}: it runs here as {Id}")]
    private static partial void LogRescheduled(ILogger logger, string name, string key, string from, string id);

    [LoggerMessage(EventId = 931, Level = LogLevel.Error, Message = "Could not reschedule workload {Name} ({Key}) of node {From}: {Reason} ({Record}; this node tries again in {Seconds:0} s)")]
    private static partial void LogRescheduleFailed(ILogger logger, string name, string key, string from, string reason, string record, double seconds);

    [LoggerMessage(EventId = 932, Level = LogLevel.Warning, Message = "Workload {Name} ({Key}) of node {Node} is orphaned ({Why})")]
    private static partial void LogOrphaned(ILogger logger, string name, string key, string node, string why);

    [LoggerMessage(EventId = 933, Level = LogLevel.Information, Message = "Stopped the copy of {Key} here: its record is held by {Owner} now")]
    private static partial void LogHealed(ILogger logger, string key, string owner);

    [LoggerMessage(EventId = 934, Level = LogLevel.Warning, Message = "Rescheduler: a look at the desired state failed: {Reason}")]
    private static partial void LogTickFailed(ILogger logger, string reason);

}
