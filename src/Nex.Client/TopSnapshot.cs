using Nex.Protocol;

namespace Nex.Client;

/// <summary>What <c>nex top</c> reads at one refresh: every node that answered PING, and their workloads in the asked namespaces.</summary>
/// <param name="Time">When the reading was taken (the client's clock): rates are deltas over the time between two readings.</param>
/// <param name="Nodes">The nodes that answered PING, each with its INFO when it answered that too.</param>
/// <param name="Workloads">The workloads of the nodes that answered INFO, flattened with their node.</param>
/// <param name="Namespaces">The namespaces whose workloads were asked for.</param>
public sealed record TopSnapshot(DateTimeOffset Time, IReadOnlyList<TopNode> Nodes, IReadOnlyList<TopWorkload> Workloads, IReadOnlyList<string> Namespaces);

/// <summary>One node in a <see cref="TopSnapshot"/>.</summary>
/// <param name="Ping">Its PING reply.</param>
/// <param name="Info">Its INFO reply (the first namespace's; host figures are the same in every one), or null when it did not answer.</param>
/// <param name="Problem">Why its workloads may be missing (an INFO that failed or timed out), or null.</param>
public sealed record TopNode(PingResponse Ping, InfoResponse? Info, string? Problem)
{
    /// <summary>The node's public id.</summary>
    public string NodeId => Ping.NodeId;

    /// <summary>Its <c>node_name</c> tag, or the empty string.</summary>
    public string Name => Ping.Tags?.GetValueOrDefault(NexTags.NodeName) ?? "";

    /// <summary>True once the node entered lame duck mode: it sets the <c>nex.lameduck</c> tag (spec §4.11), seen in PING and INFO.</summary>
    public bool LameDuck => Ping.Tags?.GetValueOrDefault(NexTags.LameDuck) == "true" || Info?.Tags?.GetValueOrDefault(NexTags.LameDuck) == "true";
}

/// <summary>One workload in a <see cref="TopSnapshot"/>, as its node's INFO described it.</summary>
/// <param name="NodeId">The node running it.</param>
/// <param name="NodeName">That node's <c>node_name</c> tag, or the empty string.</param>
/// <param name="Namespace">Its namespace (the INFO request's, when the node left it out).</param>
/// <param name="Machine">The node's description of it.</param>
public sealed record TopWorkload(string NodeId, string NodeName, string Namespace, MachineSummary Machine);
