using System.Globalization;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Agents;
using Nex.Node.HostServices;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>
/// Functions (spec §5.9): the node holds the trigger subscriptions, relays each message to the
/// agent and replies with the result; it also answers the function's host service calls.
/// </summary>
internal sealed partial class WorkloadManager
{
    private static readonly TimeSpan TriggerMargin = TimeSpan.FromSeconds(2);
    private readonly HostHttpClient _http;

    /// <summary>
    /// After the agent accepted a function: its host services, then its trigger subscriptions
    /// (in the deploy's queue group, if any). A failure here stops the workload (0.2 left it
    /// running, §4.7 [BUG]).
    /// </summary>
    private async Task StartFunctionAsync(Workload workload, CancellationToken cancellationToken)
    {
        try
        {
            workload.HostServices = await WorkloadHostServices.CreateAsync(
                _node.Config.HostServices,
                new HostServiceCaller(workload.Id, workload.Namespace, workload.Name),
                workload.Request.HostServices,
                workload.Request.TriggerConnection,
                _mainNats,
                _http,
                _loggers,
                cancellationToken).ConfigureAwait(false);
            var connection = workload.HostServices.TriggerConnection ?? _mainNats;
            foreach (var subject in workload.Request.TriggerSubjects ?? [])
            {
                var sub = await connection.SubscribeCoreAsync<byte[]>(subject, queueGroup: string.IsNullOrEmpty(workload.Request.TriggerQueueGroup) ? null : workload.Request.TriggerQueueGroup, cancellationToken: cancellationToken).ConfigureAwait(false);
                workload.Triggers.Add(sub);
                Track(() => ServeTriggerAsync(workload, subject, connection, sub));
            }

            await connection.PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Nex.Nats.NatsConnectException ex)
        {
            throw new ControlRejectedException($"Failed to deploy workload: host services: {ex.Message}");
        }
        catch (Exception ex) when (ex is NatsException or InvalidOperationException or OperationCanceledException)
        {
            throw new ControlRejectedException($"Failed to deploy workload: could not subscribe its trigger subjects: {ex.Message}");
        }
    }

    private static async Task StopFunctionAsync(Workload workload)
    {
        foreach (var sub in workload.Triggers)
        {
            await sub.DisposeAsync().ConfigureAwait(false);
        }

        if (workload.HostServices is { } services)
        {
            await services.DisposeAsync().ConfigureAwait(false);
        }
    }

    // Messages are relayed concurrently (the agent runs them one at a time, in order); a bounded
    // number in flight keeps a burst from piling up unbounded work.
    private async Task ServeTriggerAsync(Workload workload, string subscription, INatsConnection connection, INatsSub<byte[]> sub)
    {
        using var inFlight = new SemaphoreSlim(64);
        var running = new List<Task>();
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                await inFlight.WaitAsync(_stopping.Token).ConfigureAwait(false);
                running.RemoveAll(t => t.IsCompleted);
                running.Add(RelayAsync(msg));
            }
        }
        catch (OperationCanceledException)
        {
            // Unsubscribed or stopping.
        }

        await Task.WhenAll(running).ConfigureAwait(false);

        async Task RelayAsync(NatsMsg<byte[]> msg)
        {
            try
            {
                await RelayTriggerAsync(workload, subscription, connection, msg).ConfigureAwait(false);
            }
            finally
            {
                inFlight.Release();
            }
        }
    }

    private async Task RelayTriggerAsync(Workload workload, string subscription, INatsConnection connection, NatsMsg<byte[]> msg)
    {
        var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = msg.Subject };
        NatsMsg<byte[]> reply;
        try
        {
            reply = await workload.Agent.Link.Connection.RequestAsync<byte[], byte[]>(
                AgentSubjects.Trigger(workload.Id),
                msg.Data ?? [],
                headers,
                replyOpts: new NatsSubOpts { Timeout = workload.FunctionTimeout + TriggerMargin },
                cancellationToken: CancellationToken.None).ConfigureAwait(false);
            if (reply.HasNoResponders)
            {
                throw new NatsNoRespondersException();
            }
        }
        catch (NatsException ex)
        {
            var error = ex is NatsNoReplyException ? "the function did not return a result in time" : ex.Message;
            await _events.PublishAsync(
                workload.Namespace,
                EventTypes.FunctionExecFailed,
                new FunctionExecFailedEvent { WorkloadName = workload.Name, TriggerSubject = subscription, Namespace = workload.Namespace, Error = error },
                NexJson.Context.FunctionExecFailedEvent).ConfigureAwait(false);
            await _events.PublishLogAsync(workload.Namespace, workload.Name, workload.Id, LogLevels.Error, "Function execution failed").ConfigureAwait(false);
            return;
        }

        var nanos = reply.Headers is { } h && h.TryGetValue(AgentSubjects.RuntimeNsHeader, out var value)
            && long.TryParse(value.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        workload.AddFunctionRuntime(nanos);
        if (!string.IsNullOrEmpty(msg.ReplyTo))
        {
            await connection.PublishAsync(msg.ReplyTo, reply.Data ?? []).ConfigureAwait(false);
        }

        await _events.PublishAsync(
            workload.Namespace,
            EventTypes.FunctionExecSucceeded,
            new FunctionExecSucceededEvent { WorkloadName = workload.Name, TriggerSubject = subscription, ElapsedNanos = nanos, Namespace = workload.Namespace },
            NexJson.Context.FunctionExecSucceededEvent).ConfigureAwait(false);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            LogFunctionSucceeded(_logger, workload.Name, nanos);
        }
    }

    public ValueTask OnHostServiceCallAsync(string agentId, NatsMsg<byte[]> msg)
    {
        // Answered concurrently: a function may await several calls at once.
        Track(() => AnswerHostServiceCallAsync(agentId, msg));
        return ValueTask.CompletedTask;
    }

    private async Task AnswerHostServiceCallAsync(string agentId, NatsMsg<byte[]> msg)
    {
        if (string.IsNullOrEmpty(msg.ReplyTo))
        {
            return;
        }

        // Only the service and method are used; the namespace and name come from the node's own record
        // (0.2 trusted the agent's, §11 #16).
        HostServiceResponse response;
        var wellFormed = AgentSubjects.TryParseHostServicesRpc(msg.Subject, out var call);
        if (!wellFormed || !_running.TryGetValue(agentId, out var workload) || workload.HostServices is not { } services)
        {
            response = new HostServiceResponse(400, wellFormed ? "this workload has no host services" : $"invalid host services subject: {msg.Subject}", []);
        }
        else
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, values) in msg.Headers ?? [])
            {
                headers[key] = values.ToString();
            }

            response = await services.HandleAsync(call.Service, call.Method, headers, msg.Data ?? [], _stopping.Token).ConfigureAwait(false);
        }

        var replyHeaders = new NatsHeaders
        {
            [HostServicesProtocol.CodeHeader] = response.Code.ToString(CultureInfo.InvariantCulture),
            [HostServicesProtocol.MessageHeader] = response.Message,
        };
        await msg.ReplyAsync(response.Body, replyHeaders).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 830, Level = LogLevel.Debug, Message = "Function {Name} execution succeeded ({Nanos}ns)")]
    private static partial void LogFunctionSucceeded(ILogger logger, string name, long nanos);
}
