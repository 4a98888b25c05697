using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.HostServices;
using Nex.Node.Telemetry;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>
/// Functions (spec §5.9): the workload holds its trigger subscriptions, relays each message to the agent and
/// replies with the result; it also answers the function's host service calls.
/// </summary>
internal sealed partial class RunningWorkload
{
    private static readonly TimeSpan TriggerMargin = TimeSpan.FromSeconds(2);

    // Messages are relayed concurrently (the agent queues them for its engine); a bounded number in flight keeps
    // a burst from piling up unbounded work. A relay starts on the read loop: it only sends the request before
    // it waits, so a thread-pool hop per message would cost more than it spares.
    private const int TriggersInFlight = 64;

    private NatsEndpoints? _triggers;
    private Task _triggersStopped = Task.CompletedTask;

    /// <summary>Host services of a function (null for services, and until the function has started).</summary>
    public WorkloadHostServices? HostServices { get; private set; }

    private Task TriggersStopped => Volatile.Read(ref _triggersStopped);

    /// <summary>
    /// After the agent accepted a function: its host services, then its trigger subscriptions (in the deploy's
    /// queue group, if any). A failure here is the deploy's failure (0.2 left the workload running, §4.7 [BUG]);
    /// the caller then abandons the workload.
    /// </summary>
    /// <exception cref="ControlRejectedException">With the reason.</exception>
    public async Task StartFunctionAsync(CancellationToken cancellationToken)
    {
        try
        {
            HostServices = await CreateHostServicesAsync(cancellationToken).ConfigureAwait(false);
            var connection = HostServices.TriggerConnection ?? _context.MainNats;
            var options = new NatsEndpointOptions(TriggersInFlight, string.IsNullOrEmpty(Request.TriggerQueueGroup) ? null : Request.TriggerQueueGroup, InlineStart: true);
            var triggers = new NatsEndpoints(OnRelayFailedAsync);
            _triggers = triggers;
            foreach (var subject in Request.TriggerSubjects ?? [])
            {
                // The relay's request to the agent is not cancelled when the triggers stop: a message taken is answered.
                await triggers.AddAsync(connection, subject, (msg, _) => RelayTriggerAsync(subject, connection, msg), options, cancellationToken).ConfigureAwait(false);
            }

            await connection.PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or InvalidOperationException or OperationCanceledException)
        {
            throw new ControlRejectedException($"Failed to deploy workload: could not subscribe its trigger subjects: {ex.Message}");
        }
    }

    /// <summary>Answers a host service call of its agent (concurrently with others: a function may await several).</summary>
    public async ValueTask AnswerHostServiceCallAsync(NatsMsg<byte[]> msg)
    {
        try
        {
            await HostServiceCalls.AnswerAsync(HostServices, msg, _calls.Token, Calls).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_calls.IsCancellationRequested)
        {
            // The agent is gone, or the node is shutting down.
        }
    }

    // The one place that knows what WorkloadHostServices.CreateAsync throws when a connection cannot be made.
    private async Task<WorkloadHostServices> CreateHostServicesAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await WorkloadHostServices.CreateAsync(
                _context.Node.Config.HostServices,
                new HostServiceCaller(Id, Namespace, Name),
                Request.HostServices,
                Request.TriggerConnection,
                _context.MainNats,
                _context.Http,
                _context.Loggers,
                cancellationToken).ConfigureAwait(false);
        }
        catch (Nex.Nats.NatsConnectException ex)
        {
            throw new ControlRejectedException($"Failed to deploy workload: host services: {ex.Message}");
        }
    }

    // New messages stop at once; relays in flight finish on their own (Completion waits for them), so that an end
    // does not wait for a running invocation before it undeploys.
    private async Task StopFunctionAsync()
    {
        if (_triggers is { } triggers)
        {
            Volatile.Write(ref _triggersStopped, triggers.DisposeAsync().AsTask());
        }

        if (HostServices is { } services)
        {
            await services.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask RelayTriggerAsync(string subscription, INatsConnection connection, NatsMsg<byte[]> msg)
    {
        var startedAt = Calls.Start();
        using var span = StartTriggerSpan(msg);
        NatsHeaders? headers = new() { [AgentSubjects.TriggerSubjectHeader] = msg.Subject };
        NodeTracing.Inject(span, msg.Headers, ref headers);
        NatsMsg<byte[]> reply;
        try
        {
            using var request = span is null ? null : NodeTracing.Source.StartActivity(NodeTracing.InternalRequestSpan, ActivityKind.Client)?.SetTag("messaging.system", "nats");
            reply = await Agent.Link.Connection.RequestAsync<byte[], byte[]>(
                AgentSubjects.Trigger(Id),
                msg.Data ?? [],
                headers,
                replyOpts: new NatsSubOpts { Timeout = FunctionTimeout + TriggerMargin },
                cancellationToken: CancellationToken.None).ConfigureAwait(false);
            if (reply.HasNoResponders)
            {
                throw new NatsNoRespondersException();
            }
        }
        catch (NatsException ex)
        {
            Calls.Failed(startedAt);
            var error = ex is NatsNoReplyException ? "the function did not return a result in time" : ex.Message;
            NodeTracing.Fail(span, ex is NatsNoReplyException ? "timeout" : ex.GetType().Name, error);
            await PublishFailedAsync(subscription, error).ConfigureAwait(false);
            return;
        }

        // A failed call is answered at once: the caller gets the error headers, the event the real cause.
        // Counted before the caller hears, so INFO (and the workload's run time) already include a call its caller saw.
        if (reply.Headers is { } errorHeaders && errorHeaders.TryGetValue(FunctionErrors.Header, out var cause))
        {
            Calls.Failed(startedAt);
            if (!string.IsNullOrEmpty(msg.ReplyTo))
            {
                var forwarded = new NatsHeaders { [FunctionErrors.Header] = cause };
                if (errorHeaders.TryGetValue(FunctionErrors.CodeHeader, out var code))
                {
                    forwarded[FunctionErrors.CodeHeader] = code;
                }

                if (NodeTracing.ReplyTraceParent(span, msg.Headers) is { } parent)
                {
                    forwarded[TraceHeaders.TraceParent] = parent;
                }

                await connection.PublishAsync(msg.ReplyTo, Array.Empty<byte>(), forwarded).ConfigureAwait(false);
            }

            NodeTracing.Fail(span, errorHeaders.TryGetValue(FunctionErrors.CodeHeader, out var type) ? type.ToString() : "function", cause.ToString());
            await PublishFailedAsync(subscription, cause.ToString()).ConfigureAwait(false);
            return;
        }

        var nanos = reply.Headers is { } h && h.TryGetValue(AgentSubjects.RuntimeNsHeader, out var value)
            && long.TryParse(value.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        Calls.Succeeded(startedAt, nanos);
        if (!string.IsNullOrEmpty(msg.ReplyTo))
        {
            var parent = NodeTracing.ReplyTraceParent(span, msg.Headers);
            await connection.PublishAsync(msg.ReplyTo, reply.Data ?? [], parent is null ? null : new NatsHeaders { [TraceHeaders.TraceParent] = parent }).ConfigureAwait(false);
        }

        await _context.Events.PublishAsync(
            Namespace,
            EventTypes.FunctionExecSucceeded,
            new FunctionExecSucceededEvent { WorkloadName = Name, TriggerSubject = subscription, ElapsedNanos = nanos, Namespace = Namespace },
            NexJson.Context.FunctionExecSucceededEvent).ConfigureAwait(false);
        if (_context.Logger.IsEnabled(LogLevel.Debug))
        {
            LogFunctionSucceeded(_context.Logger, Name, nanos);
        }
    }

    // 0.2's attribute names (name, namespace, trigger-subject), plus the workload id.
    private Activity? StartTriggerSpan(NatsMsg<byte[]> msg) =>
        NodeTracing.StartServer(NodeTracing.TriggerSpan, msg.Headers, msg.Subject)
            ?.SetTag("name", Name).SetTag("namespace", Namespace).SetTag("trigger-subject", msg.Subject).SetTag("nex.workload.id", Id);

    private async Task PublishFailedAsync(string subscription, string error)
    {
        await _context.Events.PublishAsync(
            Namespace,
            EventTypes.FunctionExecFailed,
            new FunctionExecFailedEvent { WorkloadName = Name, TriggerSubject = subscription, Namespace = Namespace, Error = error },
            NexJson.Context.FunctionExecFailedEvent).ConfigureAwait(false);
        await _context.Events.PublishLogAsync(Namespace, Name, Id, LogLevels.Error, "Function execution failed").ConfigureAwait(false);
    }

    private ValueTask OnRelayFailedAsync(NatsMsg<byte[]> msg, Exception ex)
    {
        // E.g. the reply could not be published because the trigger connection closed as the workload ended.
        if (_context.Logger.IsEnabled(LogLevel.Debug))
        {
            LogRelayFailed(_context.Logger, Name, msg.Subject, ex.Message);
        }

        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 830, Level = LogLevel.Debug, Message = "Function {Name} execution succeeded ({Nanos}ns)")]
    private static partial void LogFunctionSucceeded(ILogger logger, string name, long nanos);

    [LoggerMessage(EventId = 831, Level = LogLevel.Debug, Message = "Function {Name}: relaying {Subject} failed: {Reason}")]
    private static partial void LogRelayFailed(ILogger logger, string name, string subject, string reason);
}
