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
    /// <summary>Checks a request received on the wire.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    public ValidatedDeploy Validate(string ns, ReadOnlySpan<byte> body)
    {
        CheckNamespace(ns);
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
    /// the limits, the node's <c>deny_trigger_subjects</c> and the issuer allow-list, as 0.2 does; unlike
    /// 0.2 it does not skip the system-subject rules (see <see cref="TriggerProblem"/>).</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    public ValidatedDeploy Validate(string ns, DeployRequest request, bool trusted)
    {
        CheckNamespace(ns);
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
            throw new ControlRejectedException($"Unsupported workload type on this node: {SubjectToken.Shorten(request.Type)}");
        }

        if (WorkloadTypes.IsFunction(request.Type) && node.Config.FunctionProblem is { } functionProblem)
        {
            throw new ControlRejectedException($"Unsupported workload type on this node: {functionProblem}");
        }

        // The domain becomes a subject token ($JS.<domain>.API.…): a long one would close the node's connection.
        if (request.JsDomain is { Length: > 0 } domain && !SubjectToken.IsValid(domain))
        {
            throw new ControlRejectedException($"Invalid deploy request: jsdomain '{SubjectToken.Shorten(domain)}' is not a JetStream domain (1-64 characters, no '.', '*', '>' or whitespace)");
        }

        var triggers = request.TriggerSubjects ?? [];
        if (triggers.Count > 0 && !WorkloadTypes.IsFunction(request.Type))
        {
            throw new ControlRejectedException($"Unsupported workload type for trigger subject registration: {request.Type}");
        }

        foreach (var trigger in triggers)
        {
            if (TriggerProblem(trigger, trusted ? [] : node.Config.DenyTriggerSubjects, node.Config.AllowWildcardTriggers) is { } problem)
            {
                throw new ControlRejectedException(problem);
            }
        }

        // The queue group goes into the SUB line as is: whitespace or a huge one would break the connection.
        if (request.TriggerQueueGroup is { Length: > 0 } group
            && (group.Length > SubjectToken.MaxLength || group.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            throw new ControlRejectedException($"Invalid trigger queue group: '{SubjectToken.Shorten(group)}' (1-{SubjectToken.MaxLength} characters, no whitespace)");
        }

        if (FunctionContexts.Problem(request.FunctionContext, request.Type) is { } contextProblem)
        {
            throw new ControlRejectedException(contextProblem);
        }

        IReadOnlyDictionary<string, string> environment;
        try
        {
            environment = EnvironmentCipher.Decrypt(request.Environment, node.Identity.XKey, request.SenderPublicKey);
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Failed to decrypt environment for deploy request: {ex.Message}", Rejection.Environment);
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

    /// <summary>
    /// Why a trigger subject is refused, or null. In order: not a valid subject; a system subject (first
    /// token starting with <c>$</c> or <c>_INBOX</c>: <c>$KV</c>, <c>$O</c>, <c>$JS</c>, replies of other
    /// clients…) or one that overlaps 0.2's mandatory <c>$SYS.&gt;</c>, <c>$JS.&gt;</c>, <c>$NEX.&gt;</c> or
    /// <paramref name="denied"/> (0.2's message); then a first token that is a wildcard, which would
    /// answer other tenants' subjects, unless <paramref name="allowWildcards"/>. (Only <c>*</c> itself gets
    /// that far: <c>*.foo</c>, <c>*.&gt;</c> and <c>&gt;</c> overlap <c>$SYS.&gt;</c>.)
    /// </summary>
    /// <param name="trigger">The trigger subject.</param>
    /// <param name="denied">The node's <c>deny_trigger_subjects</c> (empty for autostart).</param>
    /// <param name="allowWildcards">The node's <c>allow_wildcard_triggers</c>.</param>
    /// <returns>The one-line reason, or null when the trigger is accepted.</returns>
    public static string? TriggerProblem(string trigger, IReadOnlyList<string> denied, bool allowWildcards) =>
        ReservedSubjects.CheckTrigger(trigger, denied, allowWildcards) switch
        {
            TriggerSubjectProblem.Invalid => $"Invalid trigger subject: {SubjectToken.Shorten(trigger)}",
            TriggerSubjectProblem.Denied => $"The trigger subject {trigger} overlaps with subject(s) in this node's deny list",
            TriggerSubjectProblem.Wildcard => $"The trigger subject {trigger} starts with a wildcard and would take other workloads' subjects; this node does not allow wildcard triggers (allow_wildcard_triggers)",
            _ => null,
        };

    // Step 1 (the subject's namespace token): a subject token that is also safe in bucket names.
    // A client can publish to $NEX.DEPLOY.*.<node> or .>.<node>: the token then arrives literally.
    private static void CheckNamespace(string ns)
    {
        if (SubjectToken.NamespaceProblem(ns) is { } problem)
        {
            throw new ControlRejectedException($"Invalid subject for workload deployment: {problem}");
        }
    }

    // Steps 2–3: lame duck, then the workload-count limit.
    private void CheckAdmission()
    {
        if (node.IsLameDuck)
        {
            throw new ControlRejectedException("Node is in lame duck mode. Workload deploy request denied", Rejection.NodeState);
        }

        var max = node.Config.NodeLimits.MaxWorkloads;
        if (max > 0 && runningCount() >= max)
        {
            throw new ControlRejectedException("Node is at maximum workload limit. Deploy request denied", Rejection.NodeState);
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
