using System.Text.Json;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Telemetry;
using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node.ControlApi;

/// <summary>DEPLOY, STOP and LAMEDUCK: requests that change the node (spec §1.8–1.10).</summary>
internal sealed partial class ControlApiListener
{
    private async Task HandleDeployAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        byte[] reply;
        ValidatedDeploy? deploy = null;
        try
        {
            if (!NexSubjects.TryGetNamespace(msg.Subject, out var ns))
            {
                throw new ControlRejectedException("Invalid subject for workload deployment");
            }

            deploy = _validator.Validate(ns, msg.Data ?? []);
            var response = await _workloads.DeployAsync(deploy, cancellationToken).ConfigureAwait(false);
            _node.Metrics.Deployed(deploy.Namespace, deploy.Request.Type);
            reply = NexEnvelope.Success(ResponseTypes.Run, response, NexJson.Context.RunResponse);
        }
        catch (ControlRejectedException ex)
        {
            _node.Metrics.DeployFailed(deploy?.Namespace ?? NexSubjects.TryGetToken(msg.Subject, 2) ?? "", deploy?.Request.Type ?? "unknown", Telemetry.DeployFailures.Classify(ex, validated: deploy is not null));
            LogDeployRejected(_logger, ex.Message);
            NodeTracing.FailCurrent("rejected", ex.Message);
            reply = NexEnvelope.Failure(ResponseTypes.Run, ex.Message);
        }

        await ReplyAsync(msg, reply).ConfigureAwait(false);
    }

    private async Task HandleStopAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        byte[] reply;
        try
        {
            if (!NexSubjects.TryGetNamespace(msg.Subject, out var ns))
            {
                throw new ControlRejectedException("Invalid subject for workload stop");
            }

            if (SubjectToken.NamespaceProblem(ns) is { } problem)
            {
                throw new ControlRejectedException($"Invalid subject for workload stop: {problem}");
            }

            StopRequest request;
            try
            {
                request = JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.StopRequest)
                    ?? throw new JsonException("request is null");
            }
            catch (JsonException ex)
            {
                throw new ControlRejectedException($"Unable to deserialize stop request: {JsonErrors.Describe(ex, NexJson.Context.StopRequest)}");
            }

            var response = await _workloads.StopAsync(ns, request, cancellationToken).ConfigureAwait(false);
            reply = NexEnvelope.Success(ResponseTypes.Stop, response, NexJson.Context.StopResponse);
        }
        catch (ControlRejectedException ex)
        {
            NodeTracing.FailCurrent("rejected", ex.Message);
            reply = NexEnvelope.Failure(ResponseTypes.Stop, ex.Message);
        }

        await ReplyAsync(msg, reply).ConfigureAwait(false);
    }

    private async Task HandleLameDuckAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        if (_node.TryEnterLameDuck())
        {
            _workloads.EnterLameDuck();
            LogLameDuck(_logger);

            // 0.2 stamps this event with the node's start time; we use the real time (§11 #13).
            await _events.PublishAsync(
                NexSubjects.SystemNamespace,
                EventTypes.NodeEnteredLameDuck,
                new LameDuckEnteredEvent { Version = _node.Version, Id = _node.NodeId },
                NexJson.Context.LameDuckEnteredEvent,
                cancellationToken: cancellationToken).ConfigureAwait(false);

            // After the announcement, so node_drained never precedes it (0.2 stops here and never exits).
            _workloads.BeginDrain();
        }

        await ReplyAsync(msg, NexEnvelope.Success(ResponseTypes.LameDuck, new LameDuckResponse { NodeId = _node.NodeId, Success = true }, NexJson.Context.LameDuckResponse)).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Deploy request rejected: {Reason}")]
    private static partial void LogDeployRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "Node entered lame duck mode: new deploys are refused; draining its workloads to other nodes, then it exits")]
    private static partial void LogLameDuck(ILogger logger);
}
