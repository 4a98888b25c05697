using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.Events;
using Nex.Node.Telemetry;
using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node.ControlApi;

/// <summary>
/// Serves the control API on the main NATS connection (spec §1.2) as one <see cref="NatsEndpoints"/> group:
/// each subject has its own read loop; slow requests (DEPLOY, STOP) run as tracked tasks so a download never
/// delays a PING.
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
    private readonly NatsEndpoints _endpoints;

    public ControlApiListener(INatsConnection connection, NodeState node, IWorkloadManager workloads, DeployValidator validator, EventPublisher events, ILogger<ControlApiListener> logger)
    {
        _validator = validator;
        _connection = connection;
        _node = node;
        _workloads = workloads;
        _events = events;
        _logger = logger;
        _endpoints = new NatsEndpoints(OnHandlerFailedAsync);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var id = _node.NodeId;
        // Span names are 0.2's (spec §10.2); PING has none.
        await SubscribeAsync(NexSubjects.Ping, HandlePingAsync, inline: true, null, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.PingNode(id), HandlePingAsync, inline: true, null, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.Auction, HandleAuctionAsync, inline: true, "Handle Auction Request", cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.WPingAll, HandleWorkloadPingAsync, inline: true, "Handle workload ping", cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.InfoPattern(id), HandleInfoAsync, inline: true, "Handle info request", cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.DeployPattern(id), HandleDeployAsync, inline: false, NodeTracing.DeploySpan, cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.StopPattern(id), HandleStopAsync, inline: false, "Handle workload stop request", cancellationToken).ConfigureAwait(false);
        await SubscribeAsync(NexSubjects.LameDuck(id), HandleLameDuckAsync, inline: true, "Handle enter lameduck", cancellationToken).ConfigureAwait(false);

        // Make sure the server has every subscription before we announce the node.
        await _connection.PingAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops serving and waits for the requests in flight (a DEPLOY or STOP included).</summary>
    public ValueTask DisposeAsync() => _endpoints.DisposeAsync();

    // A quick request is answered in order on its subject's loop; DEPLOY and STOP run concurrently (unbounded,
    // each tracked by the group) so a slow download never holds up the next one.
    private Task SubscribeAsync(string subject, Func<NatsMsg<byte[]>, CancellationToken, Task> handler, bool inline, string? spanName, CancellationToken cancellationToken) =>
        _endpoints.AddAsync(
            _connection,
            subject,
            (msg, token) => spanName is null || !NodeTracing.Source.HasListeners() ? new ValueTask(handler(msg, token)) : TracedAsync(spanName, handler, msg, token),
            inline ? NatsEndpointOptions.InOrder : NatsEndpointOptions.Concurrent,
            cancellationToken);

    // The request's span is ambient while its handler runs: a failure envelope marks it (NodeTracing.FailCurrent).
    private static async ValueTask TracedAsync(string spanName, Func<NatsMsg<byte[]>, CancellationToken, Task> handler, NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        using var span = NodeTracing.StartServer(spanName, msg.Headers, msg.Subject);
        try
        {
            await handler(msg, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            NodeTracing.Fail(span, ex.GetType().FullName ?? ex.GetType().Name, ex.Message);
            throw;
        }
    }

    // No request can crash the node: a handler failure becomes an error envelope of the subject's response type.
    private async ValueTask OnHandlerFailedAsync(NatsMsg<byte[]> msg, Exception ex)
    {
        LogHandlerFailed(_logger, msg.Subject, ex);
        var type = ResponseTypeFor(msg.Subject);
        if (type is not null)
        {
            await ReplyAsync(msg, NexEnvelope.Failure(type, $"internal error: {ex.Message}")).ConfigureAwait(false);
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
