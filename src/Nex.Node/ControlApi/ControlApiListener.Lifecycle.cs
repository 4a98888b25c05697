using System.Text.Json;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Node.Workloads;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.ControlApi;

/// <summary>DEPLOY, STOP and LAMEDUCK: requests that change the node (spec §1.8–1.10).</summary>
internal sealed partial class ControlApiListener
{
    private static readonly string[] MandatoryDenied = ["$SYS.>", "$JS.>", "$NEX.>"];

    private async Task HandleDeployAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        byte[] reply;
        try
        {
            var deploy = ValidateDeploy(msg);
            var response = await _workloads.DeployAsync(deploy, cancellationToken).ConfigureAwait(false);
            reply = NexEnvelope.Success(ResponseTypes.Run, response, NexJson.Context.RunResponse);
        }
        catch (ControlRejectedException ex)
        {
            LogDeployRejected(_logger, ex.Message);
            reply = NexEnvelope.Failure(ResponseTypes.Run, ex.Message);
        }

        await ReplyAsync(msg, reply).ConfigureAwait(false);
    }

    /// <summary>Spec §1.8.2 steps 1–10, in order, each with its own message.</summary>
    private ValidatedDeploy ValidateDeploy(NatsMsg<byte[]> msg)
    {
        if (!NexSubjects.TryGetNamespace(msg.Subject, out var ns))
        {
            throw new ControlRejectedException("Invalid subject for workload deployment");
        }

        if (_node.IsLameDuck)
        {
            throw new ControlRejectedException("Node is in lame duck mode. Workload deploy request denied");
        }

        var limits = _node.Config.NodeLimits;
        if (limits.MaxWorkloads > 0 && _workloads.Running.Count >= limits.MaxWorkloads)
        {
            throw new ControlRejectedException("Node is at maximum workload limit. Deploy request denied");
        }

        DeployRequest request;
        try
        {
            request = JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.DeployRequest)
                ?? throw new JsonException("request is null");
        }
        catch (JsonException ex)
        {
            throw new ControlRejectedException($"Unable to deserialize deploy request: {ex.Message}");
        }

        var missing = MissingDeployFields(request);
        if (missing is not null)
        {
            throw new ControlRejectedException($"Unable to deserialize deploy request: {missing} is required");
        }

        if (!_node.Config.EffectiveWorkloadTypes.Contains(request.Type, StringComparer.Ordinal))
        {
            throw new ControlRejectedException($"Unsupported workload type on this node: {request.Type}");
        }

        var triggers = request.TriggerSubjects ?? [];
        if (triggers.Count > 0 && !WorkloadTypes.IsFunction(request.Type))
        {
            throw new ControlRejectedException($"Unsupported workload type for trigger subject registration: {request.Type}");
        }

        foreach (var trigger in triggers)
        {
            if (!SubjectMatcher.IsValidSubject(trigger, allowWildcards: true))
            {
                throw new ControlRejectedException($"Invalid trigger subject: {trigger}");
            }

            if (_node.Config.DenyTriggerSubjects.Concat(MandatoryDenied).Any(denied => SubjectMatcher.Collides(trigger, denied)))
            {
                throw new ControlRejectedException($"The trigger subject {trigger} overlaps with subject(s) in this node's deny list");
            }
        }

        IReadOnlyDictionary<string, string> environment;
        try
        {
            environment = EnvironmentCipher.Decrypt(request.Environment, _node.Identity.XKey, request.SenderPublicKey);
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Failed to decrypt environment for deploy request: {ex.Message}");
        }

        WorkloadClaims claims;
        try
        {
            claims = WorkloadJwt.Validate(request.WorkloadJwt, _node.Time.GetUtcNow());
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Invalid deploy request: {ex.Message}");
        }

        if (_node.Config.ValidIssuers.Count > 0 && !_node.Config.ValidIssuers.Contains(claims.Iss, StringComparer.Ordinal))
        {
            throw new ControlRejectedException($"invalid workload issuer: {claims.Iss}");
        }

        return new ValidatedDeploy(ns, request, claims, environment);
    }

    // Go leaves required strings empty when they are missing; we say which one instead of failing later.
    private static string? MissingDeployFields(DeployRequest request) =>
        string.IsNullOrEmpty(request.Type) ? "type"
        : request.Location is null ? "location"
        : string.IsNullOrEmpty(request.WorkloadJwt) ? "workload_jwt"
        : string.IsNullOrEmpty(request.SenderPublicKey) ? "sender_public_key"
        : null;

    private async Task HandleStopAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        byte[] reply;
        try
        {
            if (!NexSubjects.TryGetNamespace(msg.Subject, out var ns))
            {
                throw new ControlRejectedException("Invalid subject for workload stop");
            }

            StopRequest request;
            try
            {
                request = JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.StopRequest)
                    ?? throw new JsonException("request is null");
            }
            catch (JsonException ex)
            {
                throw new ControlRejectedException($"Unable to deserialize stop request: {ex.Message}");
            }

            var response = await _workloads.StopAsync(ns, request, cancellationToken).ConfigureAwait(false);
            reply = NexEnvelope.Success(ResponseTypes.Stop, response, NexJson.Context.StopResponse);
        }
        catch (ControlRejectedException ex)
        {
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
        }

        await ReplyAsync(msg, NexEnvelope.Success(ResponseTypes.LameDuck, new LameDuckResponse { NodeId = _node.NodeId, Success = true }, NexJson.Context.LameDuckResponse)).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Information, Message = "Deploy request rejected: {Reason}")]
    private static partial void LogDeployRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "Node entered lame duck mode: new deploys are refused, running workloads continue")]
    private static partial void LogLameDuck(ILogger logger);
}
