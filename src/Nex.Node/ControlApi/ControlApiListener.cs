using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Events;
using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node.ControlApi;

/// <summary>
/// Serves the control API on the main NATS connection (spec §1.2). Each subject has its own
/// read loop; slow requests (DEPLOY, STOP) run as tracked tasks so a download never delays a PING.
/// No request can crash the node: a handler failure becomes an error envelope.
/// </summary>
internal sealed partial class ControlApiListener : IAsyncDisposable
{
    private readonly INatsConnection _connection;
    private readonly NodeState _node;
    private readonly IWorkloadManager _workloads;
    private readonly EventPublisher _events;
    private readonly DeployValidator _validator;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private readonly List<INatsSub<byte[]>> _subscriptions = [];
    private readonly HashSet<Task> _inFlight = [];

    public ControlApiListener(INatsConnection connection, NodeState node, IWorkloadManager workloads, DeployValidator validator, EventPublisher events, ILogger<ControlApiListener> logger)
    {
        _validator = validator;
        _connection = connection;
        _node = node;
        _workloads = workloads;
        _events = events;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var id = _node.NodeId;
        await SubscribeAsync(NexSubjects.Ping, HandlePingAsync, inline: true, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.PingNode(id), HandlePingAsync, inline: true, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.Auction, HandleAuctionAsync, inline: true, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.WPingAll, HandleWorkloadPingAsync, inline: true, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.InfoPattern(id), HandleInfoAsync, inline: true, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.DeployPattern(id), HandleDeployAsync, inline: false, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.StopPattern(id), HandleStopAsync, inline: false, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.LameDuck(id), HandleLameDuckAsync, inline: true, cancellationToken).ConfigureAwait(false);

        // Make sure the server has every subscription before we announce the node.
        await _connection.PingAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var sub in _subscriptions)
        {
            await sub.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
        Task[] pending;
        lock (_inFlight)
        {
            pending = [.. _inFlight];
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task SubscribeAsync(string subject, Func<NatsMsg<byte[]>, CancellationToken, Task> handler, bool inline, CancellationToken cancellationToken)
    {
        var sub = await _connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken).ConfigureAwait(false);
        _subscriptions.Add(sub);
        _loops.Add(Task.Run(() => ReadLoopAsync(sub, handler, inline), CancellationToken.None));
    }

    private async Task ReadLoopAsync(INatsSub<byte[]> sub, Func<NatsMsg<byte[]>, CancellationToken, Task> handler, bool inline)
    {
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                if (inline)
                {
                    await SafeHandleAsync(handler, msg).ConfigureAwait(false);
                    continue;
                }

                var task = SafeHandleAsync(handler, msg);
                lock (_inFlight)
                {
                    _inFlight.Add(task);
                }

                _ = task.ContinueWith(
                    t =>
                    {
                        lock (_inFlight)
                        {
                            _inFlight.Remove(t);
                        }
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    private async Task SafeHandleAsync(Func<NatsMsg<byte[]>, CancellationToken, Task> handler, NatsMsg<byte[]> msg)
    {
        try
        {
            await handler(msg, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (Exception ex)
        {
            LogHandlerFailed(_logger, msg.Subject, ex);
            var type = ResponseTypeFor(msg.Subject);
            if (type is not null)
            {
                await ReplyAsync(msg, NexEnvelope.Failure(type, $"internal error: {ex.Message}")).ConfigureAwait(false);
            }
        }
    }

    private static string? ResponseTypeFor(string subject) => NexSubjects.TryGetToken(subject, 1) switch
    {
        "PING" or "WPING" => ResponseTypes.Ping,
        "AUCTION" => ResponseTypes.Auction,
        "INFO" => ResponseTypes.Info,
        "DEPLOY" => ResponseTypes.Run,
        "STOP" => ResponseTypes.Stop,
        "LAMEDUCK" => ResponseTypes.LameDuck,
        _ => null,
    };

    private async ValueTask ReplyAsync(NatsMsg<byte[]> msg, byte[] body)
    {
        if (string.IsNullOrEmpty(msg.ReplyTo))
        {
            LogNoReplySubject(_logger, msg.Subject);
            return;
        }

        try
        {
            await _connection.PublishAsync(msg.ReplyTo, body, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }
        catch (NatsException ex)
        {
            LogReplyFailed(_logger, msg.Subject, ex.Message);
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "Control request on {Subject} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string subject, Exception ex);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "Control request on {Subject} has no reply subject; nothing to answer")]
    private static partial void LogNoReplySubject(ILogger logger, string subject);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Could not reply to {Subject}: {Reason}")]
    private static partial void LogReplyFailed(ILogger logger, string subject, string reason);
}
