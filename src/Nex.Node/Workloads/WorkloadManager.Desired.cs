using Microsoft.Extensions.Logging;
using Nex.Node.Fleet;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>The desired-state records of this node's workloads: written when a deploy is accepted (and by each
/// restart, with its new id), removed when a workload ends for good. A node shutdown keeps them.</summary>
internal sealed partial class WorkloadManager
{
    /// <summary>The desired-state keys of the running workloads.</summary>
    public IReadOnlySet<string> RunningDesiredKeys =>
        _running.Values.Select(w => w.Deploy.DesiredKey).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>The keys of the records this node holds (wrote or adopted).</summary>
    public IReadOnlyList<string> HeldDesiredKeys => [.. _records.Keys];

    /// <summary>Forgets a record without removing it (a recovery that will be tried again at the next start).</summary>
    public void Release(string key) => _records.TryRemove(key, out _);

    /// <summary>
    /// Ends the local copy of the workload recorded under <paramref name="key"/> because its record now names another
    /// node (the fleet rescheduled it there, or a drain handed it over): the record is that node's now, so it is
    /// forgotten here without being removed, and the copy ends as <see cref="WorkloadEnd.Moved"/> (never restarted).
    /// False when no workload runs here under that key.
    /// </summary>
    public async Task<bool> SupersedeAsync(string key)
    {
        _records.TryRemove(key, out _);
        var workload = _running.Values.FirstOrDefault(w => string.Equals(w.Deploy.DesiredKey, key, StringComparison.Ordinal));
        if (workload is null)
        {
            _abandoned[key] = 0; // an essential restart waiting here must not bring back a copy owned elsewhere
            return false;
        }

        LogSuperseded(_logger, key, workload.Name, workload.Id);
        await workload.EndAsync(WorkloadEnd.Moved, exitCode: 0, message: null).ConfigureAwait(false);
        return true;
    }

    /// <summary>The record this node last wrote under <paramref name="key"/> (null when it holds none).</summary>
    public DesiredEntry? RecordOf(string key) => _records.TryGetValue(key, out var entry) ? entry : null;

    /// <summary>Notes a record this node took over (recovery): its next write compares against this revision.</summary>
    public void Adopt(DesiredEntry entry)
    {
        _records[entry.Key] = entry;
        _abandoned.TryRemove(entry.Key, out _); // claimed back: its restarts are wanted again
    }

    private async Task RecordAsync(ValidatedDeploy deploy, string workloadId, CancellationToken cancellationToken)
    {
        var key = deploy.DesiredKey!;
        var now = _node.Time.GetUtcNow();
        _records.TryGetValue(key, out var previous);
        var record = new DesiredWorkload
        {
            Namespace = deploy.Namespace,
            Name = deploy.Claims.Sub,
            NodeId = _node.NodeId,
            WorkloadId = workloadId,
            Origin = deploy.Origin,
            Request = deploy.Request,
            CreatedAt = previous?.Workload.CreatedAt ?? now,
            UpdatedAt = now,
            RetryCount = deploy.Request.RetryCount ?? 0,
        };

        // A known record is replaced only at the revision this node wrote: if another node claimed it meanwhile,
        // that node owns it now (the fleet stops duplicates; we only say so here).
        var revision = previous is null
            ? await Desired.PutAsync(key, record, cancellationToken).ConfigureAwait(false)
            : await Desired.TryClaimAsync(key, previous.Revision, record, cancellationToken).ConfigureAwait(false);
        if (revision is { } written)
        {
            _records[key] = new DesiredEntry(key, record, written);
        }
        else if (previous is not null && Desired.Unavailable is null)
        {
            LogRecordTaken(_logger, key, record.Name);
        }
    }

    private Task ForgetAsync(ValidatedDeploy deploy) => deploy.DesiredKey is { } key ? ForgetAsync(key) : Task.CompletedTask;

    /// <summary>Removes this node's record of a workload (at the revision it wrote: a record claimed elsewhere stays).</summary>
    public async Task ForgetAsync(string key)
    {
        if (!_records.TryRemove(key, out var entry))
        {
            return;
        }

        await Desired.RemoveAsync(key, entry.Revision, CancellationToken.None).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 821, Level = LogLevel.Information, Message = "Desired state: workload {Name} ({Id}) is recorded on another node now ({Key}); stopping the copy here")]
    private static partial void LogSuperseded(ILogger logger, string key, string name, string id);

    [LoggerMessage(EventId = 820, Level = LogLevel.Warning, Message = "Desired state: the record {Key} of workload {Name} changed under this node (claimed elsewhere?); not overwritten")]
    private static partial void LogRecordTaken(ILogger logger, string key, string name);
}
