using System.Text.Json;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;
using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>
/// This node's lease in the <see cref="NodeLease.Bucket"/> bucket, renewed every <c>fleet.heartbeat_ms</c>, and the
/// watch of every node's lease that feeds <see cref="Table"/>. The lease stays when the node shuts down: a node back
/// within the grace recovers its own workloads; otherwise the others move them. Writes are bounded and never throw.
/// </summary>
internal sealed partial class NodeLeases : IAsyncDisposable
{
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(2);
    private readonly INatsKVStore? _store;
    private readonly NodeState _node;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _renewing = Task.CompletedTask;
    private Task _watching = Task.CompletedTask;

    private NodeLeases(INatsKVStore? store, string? unavailable, NodeState node, ILogger logger)
    {
        _store = store;
        Unavailable = unavailable;
        _node = node;
        _logger = logger;
        Heartbeat = TimeSpan.FromMilliseconds(node.Config.Fleet.HeartbeatMs);
        Table = new LeaseTable(node.NodeId, node.Time, TimeSpan.FromMilliseconds(node.Config.Fleet.LeaseGraceMs));
    }

    /// <summary>Why there are no leases (null when the bucket is in use).</summary>
    public string? Unavailable { get; }

    /// <summary>How often the lease is renewed (and the rescheduler looks).</summary>
    public TimeSpan Heartbeat { get; }

    /// <summary>Who is alive, by this node's clock.</summary>
    public LeaseTable Table { get; }

    /// <summary>Leases that do nothing: no JetStream (the desired state already says why, once).</summary>
    public static NodeLeases None(string why, NodeState node, ILogger logger) => new(null, why, node, logger);

    /// <summary>Opens (creating if needed) the bucket; its max age, max(1 h, 10 × grace), drops the leases of
    /// nodes that never return.</summary>
    public static async Task<NodeLeases> OpenAsync(INatsConnection nats, NodeState node, ILogger logger, CancellationToken cancellationToken)
    {
        var grace = TimeSpan.FromMilliseconds(node.Config.Fleet.LeaseGraceMs);
        var maxAge = TimeSpan.FromTicks(Math.Max(TimeSpan.FromHours(1).Ticks, grace.Ticks * 10));
        var opened = await FleetBucket.OpenAsync(nats, NodeLease.Bucket, "Nex: node leases (who is alive)", maxAge, cancellationToken).ConfigureAwait(false);
        if (opened.Store is null)
        {
            LogUnavailable(logger, opened.Problem ?? "");
        }

        return new NodeLeases(opened.Store, opened.Problem, node, logger);
    }

    /// <summary>Puts the lease now, then renews it every heartbeat and watches everyone's, until disposed.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return;
        }

        await RenewAsync(cancellationToken).ConfigureAwait(false);
        _renewing = Task.Run(RenewLoopAsync, CancellationToken.None);
        _watching = Task.Run(WatchLoopAsync, CancellationToken.None);
    }

    /// <summary>Writes this node's lease (the lame-duck flag as it is now); false when it could not be written.</summary>
    public async Task<bool> RenewAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return false;
        }

        var lease = new NodeLease
        {
            NodeId = _node.NodeId,
            Name = _node.Config.Tags.GetValueOrDefault("node_name") ?? "",
            Nexus = _node.Nexus,
            Xkey = _node.Identity.PublicXKey,
            Version = _node.Version,
            LameDuck = _node.IsLameDuck,
            Reschedules = _node.Config.Fleet.Reschedule,
            StartedAt = _node.StartedAt,
            HeartbeatAt = _node.Time.GetUtcNow(),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(WriteTimeout);
        try
        {
            var result = await _store.TryPutAsync(_node.NodeId, JsonSerializer.SerializeToUtf8Bytes(lease, NexJson.Context.NodeLease), cancellationToken: timeout.Token).ConfigureAwait(false);
            return result.Success;
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false; // disconnected, or JetStream busy: the next heartbeat tries again
        }
    }

    private async Task RenewLoopAsync()
    {
        using var timer = new PeriodicTimer(Heartbeat, _node.Time);
        var failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                var renewed = await RenewAsync(_stopping.Token).ConfigureAwait(false);
                if (renewed == failing)
                {
                    // Said once per change, not at every heartbeat.
                    failing = !renewed;
                    if (failing)
                    {
                        LogRenewFailing(_logger);
                    }
                    else
                    {
                        LogRenewed(_logger);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: the lease stays.
        }
    }

    // The watch delivers every lease first, then each update; a broken watch is started again after a heartbeat.
    private async Task WatchLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Table.Restart();
            try
            {
                await foreach (var entry in _store!.WatchAsync<byte[]>(cancellationToken: _stopping.Token).ConfigureAwait(false))
                {
                    if (entry.Operation == NatsKVOperation.Put)
                    {
                        if (Parse(entry.Value) is { } lease && string.Equals(lease.NodeId, entry.Key, StringComparison.Ordinal))
                        {
                            Table.Observe(lease);
                        }
                    }
                    else
                    {
                        Table.Remove(entry.Key);
                    }
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NatsException or OperationCanceledException)
            {
                LogWatchBroken(_logger, ex.Message);
            }

            try
            {
                await Task.Delay(Heartbeat, _node.Time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static NodeLease? Parse(byte[]? value)
    {
        try
        {
            return value is { Length: > 0 } ? JsonSerializer.Deserialize(value, NexJson.Context.NodeLease) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Stops renewing and watching; the lease stays in the bucket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_renewing, _watching).ConfigureAwait(false);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 920, Level = LogLevel.Warning, Message = "Node leases unavailable ({Problem}): this node's workloads will not move to other nodes if it dies, and it takes over none")]
    private static partial void LogUnavailable(ILogger logger, string problem);

    [LoggerMessage(EventId = 921, Level = LogLevel.Warning, Message = "Node lease: could not renew it; other nodes will take this node's workloads if it stays silent for the lease grace")]
    private static partial void LogRenewFailing(ILogger logger);

    [LoggerMessage(EventId = 922, Level = LogLevel.Information, Message = "Node lease: renewed again")]
    private static partial void LogRenewed(ILogger logger);

    [LoggerMessage(EventId = 923, Level = LogLevel.Warning, Message = "Node leases: the watch broke ({Reason}); watching again")]
    private static partial void LogWatchBroken(ILogger logger, string reason);
}
