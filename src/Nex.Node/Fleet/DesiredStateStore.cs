using System.Text.Json;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Nats;
using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>A desired-state record and the KV revision it was read at (for compare-and-set).</summary>
internal sealed record DesiredEntry(string Key, DesiredWorkload Workload, ulong Revision);

/// <summary>One change seen by <see cref="DesiredStateStore.WatchAsync"/>: a record written (Entry) or removed (null).</summary>
internal sealed record DesiredChange(string Key, DesiredEntry? Entry, bool CaughtUp);

/// <summary>
/// The node's view of the <see cref="DesiredState.Bucket"/> KV bucket on its main NATS system: which workloads
/// should be running, and where. Every write is bounded and never throws: a node whose NATS has no JetStream (or
/// refuses the bucket) runs as 0.2 does, without desired state, and says why once (<see cref="Unavailable"/>).
/// </summary>
internal sealed partial class DesiredStateStore
{
    // A write sits between an accepted deploy and its answer: it must not make a deploy wait long.
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan WriteRetryDelay = TimeSpan.FromMilliseconds(100);
    private const int WriteAttempts = 4;

    private readonly INatsKVStore? _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    private DesiredStateStore(INatsKVStore? store, string? unavailable, int replicas, ILogger logger, TimeProvider? time = null)
    {
        _store = store;
        _time = time ?? TimeProvider.System;
        Unavailable = unavailable;
        Replicas = replicas;
        _logger = logger;
    }

    /// <summary>Why there is no desired state (INFO's <c>desired_state</c>), or null when the bucket is in use.</summary>
    public string? Unavailable { get; }

    /// <summary>The bucket's replicas (0 when unavailable).</summary>
    public int Replicas { get; }

    /// <summary>A store that records nothing (nodes built without one, e.g. in tests).</summary>
    public static DesiredStateStore None(ILogger logger) => new(null, "unavailable: not configured", 0, logger);

    /// <summary>A store that records nothing because of <paramref name="why"/> (already reported by the caller).</summary>
    public static DesiredStateStore Unusable(string why, ILogger logger) => new(null, $"unavailable: {why}", 0, logger);

    /// <summary>Opens (creating if needed) the bucket, as every fleet bucket is opened (<see cref="FleetBucket"/>).</summary>
    public static async Task<DesiredStateStore> OpenAsync(INatsConnection nats, ILogger logger, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        // No MaxAge: a record lives until its workload is stopped for good.
        var opened = await FleetBucket.OpenAsync(nats, DesiredState.Bucket, "Nex: workloads that should be running, and on which node", TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        if (opened.Store is { } store)
        {
            return new DesiredStateStore(store, null, opened.Replicas, logger, time);
        }

        LogUnavailable(logger, opened.Problem ?? "");
        return new DesiredStateStore(null, $"unavailable: {opened.Problem}", 0, logger);
    }

    /// <summary>Writes (creates or replaces) a record; its new revision, or null when it could not be written (logged).</summary>
    public async Task<ulong?> PutAsync(string key, DesiredWorkload workload, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return null;
        }

        // Nothing writes this record again, and without it the workload is not rescheduled if this node dies: a write
        // that fails fast (JetStream busy or just elected) is tried again, a few times (a bucket that is gone must not
        // hold every deploy for the whole bound). Writing the same record twice is harmless.
        using var timeout = Bounded(cancellationToken);
        var value = Serialize(workload);
        for (var attempt = 1; ; attempt++)
        {
            string reason;
            try
            {
                var result = await _store.TryPutAsync(key, value, cancellationToken: timeout.Token).ConfigureAwait(false);
                if (result.Success)
                {
                    return result.Value;
                }

                reason = result.Error.Message;
            }
            catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                reason = ex.Message;
            }

            if (attempt == WriteAttempts || !await PauseAsync(WriteRetryDelay * attempt, timeout.Token, cancellationToken).ConfigureAwait(false))
            {
                LogWriteFailed(_logger, key, $"{reason} ({attempt} attempts)");
                return null;
            }
        }
    }

    /// <summary>Waits before a retry; false when the write's bound ran out meanwhile (the caller's cancellation throws).</summary>
    private async Task<bool> PauseAsync(TimeSpan delay, CancellationToken bound, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, bound).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Replaces a record only if it is still at <paramref name="expectedRevision"/>: the one way to take a workload
    /// over, so that of two nodes claiming it one wins and the other learns it lost. The new revision, or null when
    /// the record changed meanwhile (or could not be written).
    /// </summary>
    public async Task<ulong?> TryClaimAsync(string key, ulong expectedRevision, DesiredWorkload claimed, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return null;
        }

        using var timeout = Bounded(cancellationToken);
        try
        {
            var result = await _store.TryUpdateAsync(key, Serialize(claimed), expectedRevision, cancellationToken: timeout.Token).ConfigureAwait(false);
            return result.Success ? result.Value : null;
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogWriteFailed(_logger, key, ex.Message);
            return null;
        }
    }

    /// <summary>Removes a record, only if it is still at <paramref name="expectedRevision"/> when that is given (a record
    /// another node claimed since is not ours to remove). False when it was not removed.</summary>
    public async Task<bool> RemoveAsync(string key, ulong? expectedRevision, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return false;
        }

        using var timeout = Bounded(cancellationToken);
        try
        {
            var opts = expectedRevision is { } revision ? new NatsKVDeleteOpts { Revision = revision } : new NatsKVDeleteOpts();
            var result = await _store.TryDeleteAsync(key, opts, timeout.Token).ConfigureAwait(false);
            if (result.Success)
            {
                return true;
            }

            LogRemoveSkipped(_logger, key, result.Error.Message);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogWriteFailed(_logger, key, ex.Message);
        }

        return false;
    }

    /// <summary>Reads one record (null when there is none or it cannot be read).</summary>
    public async Task<DesiredEntry?> GetAsync(string key, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return null;
        }

        using var timeout = Bounded(cancellationToken);
        try
        {
            var result = await _store.TryGetEntryAsync<byte[]>(key, cancellationToken: timeout.Token).ConfigureAwait(false);
            return result.Success ? Parse(result.Value.Key, result.Value.Value, result.Value.Revision) : null;
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogListFailed(_logger, ex.Message);
            return null;
        }
    }

    /// <summary>Every record in the bucket (unreadable ones are skipped).</summary>
    public async Task<IReadOnlyList<DesiredEntry>> ListAsync(CancellationToken cancellationToken) =>
        await TryListAsync(cancellationToken).ConfigureAwait(false) ?? [];

    /// <summary>Every record in the bucket, or null when the bucket could not be read (logged): the fleet must not
    /// take "could not read" for "no records".</summary>
    public async Task<IReadOnlyList<DesiredEntry>?> TryListAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return [];
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(OpenTimeout);
        try
        {
            return await ReadAllAsync(_store, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogListFailed(_logger, ex.Message);
            return null;
        }
    }

    /// <summary>Reads one record: Read is false when the bucket could not be read, Entry null when there is no record.</summary>
    public async Task<(bool Read, DesiredEntry? Entry)> TryGetAsync(string key, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return (false, null);
        }

        using var timeout = Bounded(cancellationToken);
        try
        {
            var result = await _store.TryGetEntryAsync<byte[]>(key, cancellationToken: timeout.Token).ConfigureAwait(false);
            if (result.Success)
            {
                return (true, Parse(result.Value.Key, result.Value.Value, result.Value.Revision));
            }

            return (result.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException, null);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogListFailed(_logger, ex.Message);
            return (false, null);
        }
    }

    /// <summary>
    /// Every record, then every change as it happens: <see cref="DesiredChange.Entry"/> is null for a removed record;
    /// <see cref="DesiredChange.CaughtUp"/> marks the change that completes the records present when the watch began
    /// (with no records at all, a change with no key does). Ends with an exception when the watch breaks.
    /// </summary>
    public async IAsyncEnumerable<DesiredChange> WatchAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            yield break;
        }

        var noData = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var opts = new NatsKVWatchOpts { OnNoData = _ => { noData.TrySetResult(); return ValueTask.FromResult(false); } };
        var caughtUp = false;
        await using var entries = _store.WatchAsync<byte[]>(opts: opts, cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            var next = entries.MoveNextAsync().AsTask();

            // An empty bucket says so through OnNoData, not through an entry.
            if (!caughtUp && await Task.WhenAny(next, noData.Task).ConfigureAwait(false) != next)
            {
                caughtUp = true;
                yield return new DesiredChange("", null, true);
            }

            if (!await next.ConfigureAwait(false))
            {
                yield break;
            }

            var entry = entries.Current;
            var last = !caughtUp && entry.Delta == 0;
            caughtUp |= last;
            var parsed = entry.Operation == NatsKVOperation.Put ? Parse(entry.Key, entry.Value, entry.Revision) : null;
            yield return new DesiredChange(entry.Key, parsed, last);
        }
    }

    private static async Task<IReadOnlyList<DesiredEntry>> ReadAllAsync(INatsKVStore store, CancellationToken cancellationToken)
    {
        var entries = new List<DesiredEntry>();
        foreach (var entry in await KvSnapshot.ReadAsync(store, cancellationToken).ConfigureAwait(false))
        {
            if (Parse(entry.Key, entry.Value, entry.Revision) is { } parsed)
            {
                entries.Add(parsed);
            }
        }

        return entries;
    }

    private static DesiredEntry? Parse(string key, byte[]? value, ulong revision)
    {
        try
        {
            return value is { Length: > 0 } && JsonSerializer.Deserialize(value, NexJson.Context.DesiredWorkload) is { } workload
                ? new DesiredEntry(key, workload, revision)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] Serialize(DesiredWorkload workload) => JsonSerializer.SerializeToUtf8Bytes(workload, NexJson.Context.DesiredWorkload);

    private static CancellationTokenSource Bounded(CancellationToken cancellationToken)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(WriteTimeout);
        return timeout;
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "Desired state unavailable ({Problem}): deploys work, but workloads are not recorded and will not be recovered after a restart")]
    private static partial void LogUnavailable(ILogger logger, string problem);

    [LoggerMessage(EventId = 901, Level = LogLevel.Warning, Message = "Desired state: could not write {Key}: {Reason}")]
    private static partial void LogWriteFailed(ILogger logger, string key, string reason);

    [LoggerMessage(EventId = 903, Level = LogLevel.Warning, Message = "Desired state: could not read the bucket: {Reason}")]
    private static partial void LogListFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 902, Level = LogLevel.Information, Message = "Desired state: {Key} not removed: {Reason}")]
    private static partial void LogRemoveSkipped(ILogger logger, string key, string reason);
}
