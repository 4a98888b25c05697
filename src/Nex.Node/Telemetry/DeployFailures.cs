using Nex.Node.Workloads;

namespace Nex.Node.Telemetry;

/// <summary>The <c>reason</c> attribute of <c>nex-workload-deploy-failures</c>: a few classes an operator can alert on,
/// never the message (which names workloads and would make a series per failure).</summary>
internal static class DeployFailures
{
    /// <summary>The class of a refused or failed deploy.</summary>
    /// <param name="rejection">What the node answered.</param>
    /// <param name="validated">Whether the request had passed the control-plane checks.</param>
    public static string Classify(ControlRejectedException rejection, bool validated) => rejection.Cause switch
    {
        Rejection.Artifact => "artifact",
        Rejection.Environment => "environment",
        Rejection.NodeState => "node_state",
        _ when !validated => "invalid_request",
        _ when rejection.Message.StartsWith("Failed to get agent client from pool", StringComparison.Ordinal) => "no_agent",
        _ when rejection.Message.Contains("the node is unhealthy", StringComparison.Ordinal) => "node_state",
        _ => "agent",
    };
}
