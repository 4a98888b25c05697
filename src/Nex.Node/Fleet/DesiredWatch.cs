using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Nex.Node.Fleet;

/// <summary>
/// This node's copy of the desired state, kept by one long-lived watch of the bucket (not a full read per
/// heartbeat: that would be a new JetStream consumer per node every heartbeat). The rescheduler reads
/// <see cref="Snapshot"/>; every record written after the copy caught up is also handed to
/// <paramref name="onWritten"/> at once (partition healing). <see cref="Restart"/> reads everything afresh (after
/// the connection comes back). Claims compare revisions, so a copy a moment stale costs a lost claim, nothing more.
/// </summary>
internal sealed partial class DesiredWatch(DesiredStateStore store, TimeSpan retry, TimeProvider time, Func<DesiredEntry, Task> onWritten, ILogger logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, DesiredEntry> _entries = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private CancellationTokenSource? _round;
    private volatile bool _ready;
    private Task _watching = Task.CompletedTask;

    /// <summary>Every record, or null until the watch has caught up (after a start or a restart).</summary>
    public IReadOnlyList<DesiredEntry>? Snapshot => _ready ? [.. _entries.Values] : null;

    public void Start() => _watching = Task.Run(LoopAsync, CancellationToken.None);

    /// <summary>Drops the copy and reads the bucket again.</summary>
    public void Restart()
    {
        _ready = false;
        try
        {
            _round?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That round just ended.
        }
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            using var round = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            _round = round;
            _ready = false;
            _entries.Clear();
            try
            {
                await foreach (var change in store.WatchAsync(round.Token).ConfigureAwait(false))
                {
                    if (change.Key.Length > 0)
                    {
                        if (change.Entry is { } entry)
                        {
                            _entries[change.Key] = entry;
                        }
                        else
                        {
                            _entries.TryRemove(change.Key, out _);
                        }
                    }

                    if (_ready && change.Entry is { } written)
                    {
                        await onWritten(written).ConfigureAwait(false);
                    }

                    _ready |= change.CaughtUp;
                }
            }
            catch (OperationCanceledException) when (round.IsCancellationRequested)
            {
                continue; // a restart, or stopping (the loop's condition says which)
            }
            catch (Exception ex) when (ex is NatsException or OperationCanceledException)
            {
                LogWatchBroken(logger, ex.Message);
            }

            try
            {
                await Task.Delay(retry, time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _watching.ConfigureAwait(false);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 936, Level = LogLevel.Warning, Message = "Desired state: the watch broke ({Reason}); watching again")]
    private static partial void LogWatchBroken(ILogger logger, string reason);
}
