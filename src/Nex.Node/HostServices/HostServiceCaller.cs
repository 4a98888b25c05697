namespace Nex.Node.HostServices;

/// <summary>
/// The node's own record of the workload calling a host service. Bucket names come from here,
/// never from the RPC subject's namespace and name tokens (spec §11 #16).
/// </summary>
/// <param name="WorkloadId">Workload (machine) id.</param>
/// <param name="Namespace">Namespace the workload was deployed into.</param>
/// <param name="WorkloadName">Workload name from the deploy request.</param>
internal sealed record HostServiceCaller(string WorkloadId, string Namespace, string WorkloadName);
