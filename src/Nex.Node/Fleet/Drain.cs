using Microsoft.Extensions.Logging;
using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>A workload running on a draining node: its id, and its desired-state key (null when it has none).</summary>
internal sealed record DrainItem(string Id, string? Key);

/// <summary>What a drain acts on: the node's workloads and the records it holds (the <c>WorkloadManager</c>).</summary>
internal interface IDrainTarget
{
    /// <summary>The workloads running now.</summary>
    IReadOnlyList<DrainItem> DrainItems { get; }

    /// <summary>The record this node last wrote under a key (null when it holds none).</summary>
    DesiredEntry? RecordOf(string key);

    /// <summary>Notes the record (and revision) this node holds now, so its later writes compare against it.</summary>
    void Adopt(DesiredEntry entry);

    /// <summary>Removes this node's record at the revision it holds (a record claimed elsewhere stays).</summary>
    Task ForgetAsync(string key);

    /// <summary>Ends the local copy as moved: the record is another node's now and stays. False when none runs.</summary>
    Task<bool> SupersedeAsync(string key);

    /// <summary>Stops a workload as a node shutdown does: gracefully, its record kept.</summary>
    Task StopHereAsync(string workloadId);
}

/// <summary>
/// The drain of a lame-duck node (issue 17 item 5; 0.2's lame duck never ends, Nex issue #302). Each running
/// workload with a record this node holds is released (<c>handoff: true</c>, compare-and-set at the revision it
/// holds, <c>node_id</c> still this node) for another node's rescheduler to claim; the local copy ends (as
/// <c>Moved</c>) once the record names another node AND a new workload id, i.e. the taker's copy has started and
/// been recorded: make-before-break, both run for a moment rather than neither. Workloads without a record (no
/// JetStream, autostart) cannot move and stop at once. At the deadline (<c>fleet.drain_timeout_ms</c>; 0 = at
/// once) whatever is still here stops as at a node shutdown: its record stays, released, so any node (this one too,
/// after a restart) can take it later. Then <c>node_drained</c> is published and the node asks to be stopped.
/// </summary>
internal sealed partial class Drain(
    DesiredStateStore store,
    IDrainTarget workloads,
    string nodeId,
    TimeProvider time,
    TimeSpan timeout,
    Func<NodeDrainedEvent, CancellationToken, Task> publish,
    Action requestStop,
    ILogger logger)
{
    /// <summary>How often the records of the workloads waiting for a taker are read.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private enum Outcome
    {
        Waiting,
        Moved,
        Gone,
    }

    /// <summary>What a drain did.</summary>
    public sealed record Result(int Moved, int Stopped, bool TimedOut);

    /// <summary>Drains, publishes <c>node_drained</c>, logs one line and requests the node's stop. Cancelled when
    /// the node shuts down first (its shutdown then stops what is left).</summary>
    public async Task<Result> RunAsync(CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + timeout;
        var waiting = new Dictionary<string, Handoff>(StringComparer.Ordinal);
        var unmovable = new List<string>();
        foreach (var item in workloads.DrainItems)
        {
            if (store.Unavailable is null && item.Key is { } key && workloads.RecordOf(key) is not null)
            {
                waiting[key] = new Handoff(item.Id);
            }
            else
            {
                unmovable.Add(item.Id);
            }
        }

        // What cannot move stops now, while the rest wait for takers. (With no time to wait, the first pass still
        // releases the records, so any node can take them later.)
        var stopping = Task.WhenAll(unmovable.Select(workloads.StopHereAsync));
        int moved = 0, stopped = unmovable.Count;
        while (true)
        {
            foreach (var (key, handoff) in waiting.ToList())
            {
                var outcome = await CheckAsync(key, handoff, cancellationToken).ConfigureAwait(false);
                if (outcome != Outcome.Waiting)
                {
                    waiting.Remove(key);
                    moved += outcome == Outcome.Moved ? 1 : 0;
                }
            }

            var left = deadline - time.GetUtcNow();
            if (waiting.Count == 0 || left <= TimeSpan.Zero)
            {
                break;
            }

            await Task.Delay(left < Tick ? left : Tick, time, cancellationToken).ConfigureAwait(false);
        }

        // The deadline: a record another node took is its own (its copy may still be starting); the rest stop here,
        // their records left released for whichever node takes them later.
        var timedOut = waiting.Count > 0;
        foreach (var (key, handoff) in waiting)
        {
            if (await store.GetAsync(key, cancellationToken).ConfigureAwait(false) is { } entry && !IsOurs(entry))
            {
                await workloads.SupersedeAsync(key).ConfigureAwait(false);
                moved++;
            }
            else
            {
                LogNotTaken(logger, key);
                await workloads.StopHereAsync(handoff.Id).ConfigureAwait(false);
                stopped++;
            }
        }

        await stopping.ConfigureAwait(false);

        // A restart that was already under way when lame duck began may have deployed since: it stops too.
        var late = workloads.DrainItems;
        await Task.WhenAll(late.Select(w => workloads.StopHereAsync(w.Id))).ConfigureAwait(false);
        stopped += late.Count;

        var result = new Result(moved, stopped, timedOut);
        await publish(new NodeDrainedEvent { NodeId = nodeId, Moved = moved, Stopped = stopped, TimedOut = timedOut }, cancellationToken).ConfigureAwait(false);
        LogDrained(logger, moved, stopped);
        requestStop();
        return result;
    }

    private async Task<Outcome> CheckAsync(string key, Handoff handoff, CancellationToken cancellationToken)
    {
        if (!handoff.Released && Runs(key) && workloads.RecordOf(key) is { } held)
        {
            var released = held.Workload with { Handoff = true, UpdatedAt = time.GetUtcNow() };
            if (await store.TryClaimAsync(key, held.Revision, released, cancellationToken).ConfigureAwait(false) is { } revision)
            {
                workloads.Adopt(new DesiredEntry(key, released, revision));
                handoff.Released = true;
                LogReleased(logger, key, held.Workload.Name);

                // Its own exit or a STOP may have ended it meanwhile, and lost the record's removal to this write.
                if (!Runs(key))
                {
                    await workloads.ForgetAsync(key).ConfigureAwait(false);
                    return Outcome.Gone;
                }

                return Outcome.Waiting;
            }

            // Changed under us (already claimed?) or not written: read what it is now.
        }

        var entry = await store.GetAsync(key, cancellationToken).ConfigureAwait(false);
        if (!Runs(key))
        {
            // Ended meanwhile: by a STOP or its own exit (not moved), or superseded already (moved).
            return entry is not null && !IsOurs(entry) ? Outcome.Moved : Outcome.Gone;
        }

        if (entry is null)
        {
            return Outcome.Waiting; // unreadable now (a removal would have ended the workload)
        }

        if (IsOurs(entry))
        {
            // Nobody took it yet, or a taker failed and put it back: hold what is there now.
            if (workloads.RecordOf(key)?.Revision != entry.Revision)
            {
                workloads.Adopt(entry);
            }

            return Outcome.Waiting;
        }

        // Make-before-break: claimed, but the taker has not recorded its own copy's id yet.
        if (string.Equals(entry.Workload.WorkloadId, handoff.Id, StringComparison.Ordinal))
        {
            return Outcome.Waiting;
        }

        LogTaken(logger, key, entry.Workload.NodeId);
        await workloads.SupersedeAsync(key).ConfigureAwait(false);
        return Outcome.Moved;
    }

    private bool Runs(string key) => workloads.DrainItems.Any(w => string.Equals(w.Key, key, StringComparison.Ordinal));

    private bool IsOurs(DesiredEntry entry) => string.Equals(entry.Workload.NodeId, nodeId, StringComparison.Ordinal);

    private sealed class Handoff(string id)
    {
        public string Id { get; } = id;

        public bool Released { get; set; }
    }

    [LoggerMessage(EventId = 930, Level = LogLevel.Information, Message = "Drain: released {Key} ({Name}) for another node to take")]
    private static partial void LogReleased(ILogger logger, string key, string name);

    [LoggerMessage(EventId = 931, Level = LogLevel.Information, Message = "Drain: {Key} runs on node {NodeId} now; stopping the copy here")]
    private static partial void LogTaken(ILogger logger, string key, string nodeId);

    [LoggerMessage(EventId = 932, Level = LogLevel.Warning, Message = "Drain: no node took {Key} by the deadline; stopped here, its record stays released for any node")]
    private static partial void LogNotTaken(ILogger logger, string key);

    [LoggerMessage(EventId = 933, Level = LogLevel.Information, Message = "Drained: {Moved} moved, {Stopped} stopped; exiting")]
    private static partial void LogDrained(ILogger logger, int moved, int stopped);
}
