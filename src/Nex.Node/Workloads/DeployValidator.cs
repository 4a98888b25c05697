using System.Text.Json;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>
/// DEPLOY's control-plane checks, spec §1.8.2 steps 2–10, in order, each with 0.2's message.
/// One place for every path into a deploy: the control API, essential restarts, autostart.
/// </summary>
internal sealed class DeployValidator(NodeState node, Func<int> runningCount)
{
    private static readonly string[] MandatoryDenied = ["$SYS.>", "$JS.>", "$NEX.>"];

    /// <summary>Checks a request received on the wire.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    public ValidatedDeploy Validate(string ns, ReadOnlySpan<byte> body)
    {
        CheckAdmission();
        DeployRequest request;
        try
        {
            request = JsonSerializer.Deserialize(body, NexJson.Context.DeployRequest)
                ?? throw new JsonException("request is null");
        }
        catch (JsonException ex)
        {
            throw new ControlRejectedException($"Unable to deserialize deploy request: {JsonErrors.Describe(ex, NexJson.Context.DeployRequest)}");
        }

        return Validate(ns, request, trusted: false);
    }

    /// <summary>Checks a request the node built itself. <paramref name="trusted"/> (autostart) skips
    /// the limits, the deny list and the issuer allow-list, as 0.2 does.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    public ValidatedDeploy Validate(string ns, DeployRequest request, bool trusted)
    {
        if (!trusted)
        {
            CheckAdmission();
        }

        if (MissingField(request) is { } missing)
        {
            throw new ControlRejectedException($"Unable to deserialize deploy request: {missing} is required");
        }

        if (!node.Config.EffectiveWorkloadTypes.Contains(request.Type, StringComparer.Ordinal))
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

            if (!trusted && node.Config.DenyTriggerSubjects.Concat(MandatoryDenied).Any(denied => SubjectMatcher.Collides(trigger, denied)))
            {
                throw new ControlRejectedException($"The trigger subject {trigger} overlaps with subject(s) in this node's deny list");
            }
        }

        IReadOnlyDictionary<string, string> environment;
        try
        {
            environment = EnvironmentCipher.Decrypt(request.Environment, node.Identity.XKey, request.SenderPublicKey);
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Failed to decrypt environment for deploy request: {ex.Message}");
        }

        WorkloadClaims claims;
        try
        {
            claims = WorkloadJwt.Validate(request.WorkloadJwt, node.Time.GetUtcNow());
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Invalid deploy request: {ex.Message}");
        }

        if (!trusted && node.Config.ValidIssuers.Count > 0 && !node.Config.ValidIssuers.Contains(claims.Iss, StringComparer.Ordinal))
        {
            throw new ControlRejectedException($"invalid workload issuer: {claims.Iss}");
        }

        return new ValidatedDeploy(ns, request, claims, environment);
    }

    // Steps 2–3: lame duck, then the workload-count limit.
    private void CheckAdmission()
    {
        if (node.IsLameDuck)
        {
            throw new ControlRejectedException("Node is in lame duck mode. Workload deploy request denied");
        }

        var max = node.Config.NodeLimits.MaxWorkloads;
        if (max > 0 && runningCount() >= max)
        {
            throw new ControlRejectedException("Node is at maximum workload limit. Deploy request denied");
        }
    }

    // Go leaves required strings empty when they are missing; we say which one instead of failing later.
    private static string? MissingField(DeployRequest request) =>
        string.IsNullOrEmpty(request.Type) ? "type"
        : string.IsNullOrEmpty(request.Location.Host) ? "location"
        : string.IsNullOrEmpty(request.WorkloadJwt) ? "workload_jwt"
        : string.IsNullOrEmpty(request.SenderPublicKey) ? "sender_public_key"
        : null;
}
