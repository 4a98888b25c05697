using Microsoft.Extensions.Logging;
using Nex.Node.Events;
using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>
/// At start, runs again the workloads recorded as desired for this node (records whose <c>node_id</c> is this
/// node's id, so only a node with the same <c>--node-seed</c>) that are not running. Each record is first claimed
/// with a compare-and-set on its revision, so a node that took it over meanwhile keeps it; its request is then
/// replayed through the same checks as any deploy (untrusted, as essential restarts do; the environment opens with
/// this node's xkey). A record that cannot be run again is reported (<c>workload_recovery_failed</c> and a log line)
/// and removed when the request itself is the cause (checks refused, artifact gone): it would fail the same way at
/// every start, and nothing else could stop it. When the node is the cause (no agent, unhealthy, at its limit) the
/// record is kept for the next start.
/// Autostart records are removed instead: the node's config deploys those again right after.
/// </summary>
internal static partial class Recovery
{
    /// <summary>What one recovery did.</summary>
    public sealed record Result(int Recovered, int Failed, int Skipped);

    public static async Task<Result> RunAsync(DesiredStateStore store, WorkloadManager workloads, NodeState node, EventPublisher events, ILogger logger, CancellationToken cancellationToken)
    {
        if (store.Unavailable is not null)
        {
            return new Result(0, 0, 0);
        }

        int recovered = 0, failed = 0, skipped = 0;
        var running = workloads.RunningDesiredKeys;
        foreach (var entry in await store.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            var record = entry.Workload;
            if (!string.Equals(record.NodeId, node.NodeId, StringComparison.Ordinal) || running.Contains(entry.Key))
            {
                continue; // another node's, or already running here
            }

            if (record.Origin == DesiredState.OriginAutostart)
            {
                await store.RemoveAsync(entry.Key, entry.Revision, cancellationToken).ConfigureAwait(false);
                continue;
            }

            // Nothing runs twice: take the record at the revision read, or leave it to whoever changed it.
            // A record its drain released (handoff) is this node's again: no longer offered to other nodes.
            var claimed = record with { UpdatedAt = node.Time.GetUtcNow(), Handoff = false };
            if (await store.TryClaimAsync(entry.Key, entry.Revision, claimed, cancellationToken).ConfigureAwait(false) is not { } revision)
            {
                skipped++;
                LogClaimLost(logger, entry.Key, record.Name);
                continue;
            }

            var outcome = await Replay.RunAsync(workloads, node, new DesiredEntry(entry.Key, claimed, revision), cancellationToken).ConfigureAwait(false);
            if (outcome.Succeeded)
            {
                recovered++;
                LogRecovered(logger, record.Name, outcome.WorkloadId!, entry.Key);
                continue;
            }

            failed++;
            if (outcome.IsTheRequests)
            {
                LogRecoveryFailed(logger, record.Name, entry.Key, outcome.Error!);
                await workloads.ForgetAsync(entry.Key).ConfigureAwait(false);
            }
            else
            {
                // The node's own trouble (no agent, unhealthy, at its limit): the next start tries again.
                LogRecoveryFailedKept(logger, record.Name, entry.Key, outcome.Error!);
                workloads.Release(entry.Key);
            }

            await PublishFailedAsync(events, node, entry.Key, record, outcome.Error!, cancellationToken).ConfigureAwait(false);
        }

        return new Result(recovered, failed, skipped);
    }

    /// <summary>Publishes <c>workload_recovery_failed</c> (recovery and rescheduling).</summary>
    public static ValueTask PublishFailedAsync(EventPublisher events, NodeState node, string key, DesiredWorkload record, string reason, CancellationToken cancellationToken) =>
        events.PublishAsync(
            record.Namespace,
            EventTypes.WorkloadRecoveryFailed,
            new WorkloadRecoveryFailedEvent { NodeId = node.NodeId, Key = key, Name = record.Name, Reason = reason },
            NexJson.Context.WorkloadRecoveryFailedEvent,
            cancellationToken: cancellationToken);

    [LoggerMessage(EventId = 913, Level = LogLevel.Error, Message = "Could not recover workload {Name} (desired state {Key}) now, record kept for the next start: {Reason}")]
    private static partial void LogRecoveryFailedKept(ILogger logger, string name, string key, string reason);

    [LoggerMessage(EventId = 910, Level = LogLevel.Information, Message = "Recovered workload {Name} as {Id} (desired state {Key})")]
    private static partial void LogRecovered(ILogger logger, string name, string id, string key);

    [LoggerMessage(EventId = 911, Level = LogLevel.Error, Message = "Could not recover workload {Name} (desired state {Key}), record removed: {Reason}")]
    private static partial void LogRecoveryFailed(ILogger logger, string name, string key, string reason);

    [LoggerMessage(EventId = 912, Level = LogLevel.Information, Message = "Not recovering workload {Name} ({Key}): its record changed meanwhile (claimed by another node)")]
    private static partial void LogClaimLost(ILogger logger, string key, string name);
}
