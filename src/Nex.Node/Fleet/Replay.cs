using Nex.Node.Workloads;
using Nex.Protocol;

namespace Nex.Node.Fleet;

/// <summary>
/// Runs a recorded workload again on this node, the one way recovery (same node, after a restart) and rescheduling
/// (another node) do it: the record, already claimed by this node, is adopted, and its signed request goes through
/// the same checks as any deploy (untrusted, as essential restarts do; the environment opens with this node's
/// xkey), then deploys as the same desired workload.
/// </summary>
internal static class Replay
{
    /// <summary>What a replay did: the new workload id, or the one-line error, whether the checks had passed, and what
    /// the refusal was about.</summary>
    public sealed record Outcome(string? WorkloadId, string? Error, bool Validated, Rejection Cause = Rejection.Request)
    {
        public bool Succeeded => WorkloadId is not null;

        /// <summary>The request is at fault and would fail the same way at every try: refused by the checks (not for
        /// the node's state), or its artifact cannot be had. Anything else after the checks is the node's trouble.</summary>
        public bool IsTheRequests => !Validated ? Cause != Rejection.NodeState : Cause == Rejection.Artifact;
    }

    /// <summary>Replays <paramref name="claimed"/> (the record as this node wrote it when claiming, and its revision).</summary>
    public static async Task<Outcome> RunAsync(WorkloadManager workloads, NodeState node, DesiredEntry claimed, CancellationToken cancellationToken)
    {
        workloads.Adopt(claimed);
        var record = claimed.Workload;
        var validated = false;
        try
        {
            var ns = DesiredState.NamespaceOf(claimed.Key) ?? record.Namespace;

            // target_node is only where the client sent it (events name it as their source): it runs here now.
            var request = string.IsNullOrEmpty(record.Request.TargetNode) ? record.Request : record.Request with { TargetNode = node.NodeId };
            var deploy = workloads.Validator.Validate(ns, request, trusted: false) with { DesiredKey = claimed.Key, Origin = record.Origin };
            validated = true;
            var response = await workloads.DeployAsync(deploy, cancellationToken).ConfigureAwait(false);
            return new Outcome(response.Id, null, true);
        }
        catch (ControlRejectedException ex)
        {
            return new Outcome(null, ex.Message, validated, ex.Cause);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // NATS trouble while fetching the artifact (JetStream electing a leader…): a failure like any other,
            // so the caller returns the record instead of leaving it claimed with nothing running.
            return new Outcome(null, $"Failed to deploy workload: {ex.Message}", validated, Rejection.NodeState);
        }
    }
}
