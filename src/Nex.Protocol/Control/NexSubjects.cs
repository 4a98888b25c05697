namespace Nex.Protocol;

/// <summary>Control-plane subjects on the main NATS system (spec §1.2, §7).</summary>
public static class NexSubjects
{
    /// <summary>The subject prefix shared by all control subjects.</summary>
    public const string Prefix = "$NEX";

    /// <summary>Broadcast ping: every node answers.</summary>
    public const string Ping = "$NEX.PING";

    /// <summary>Broadcast auction: matching nodes answer.</summary>
    public const string Auction = "$NEX.AUCTION";

    /// <summary>The pattern nodes subscribe to for workload pings.</summary>
    public const string WPingAll = "$NEX.WPING.>";

    /// <summary>The reserved namespace for node-level events.</summary>
    public const string SystemNamespace = "system";

    /// <summary>Direct ping of one node: <c>$NEX.PING.&lt;node&gt;</c>.</summary>
    /// <param name="nodeId">The node's public server NKey.</param>
    /// <returns>The subject.</returns>
    public static string PingNode(string nodeId) => $"{Ping}.{Node(nodeId)}";

    /// <summary>Workload ping: <c>$NEX.WPING.&lt;ns&gt;[.&lt;filter&gt;]</c>.</summary>
    /// <param name="ns">Namespace.</param>
    /// <param name="filter">Optional workload id or name.</param>
    /// <returns>The subject.</returns>
    public static string WPing(string ns, string? filter = null)
        => string.IsNullOrEmpty(filter) ? $"$NEX.WPING.{Ns(ns, true)}" : $"$NEX.WPING.{Ns(ns, true)}.{SubjectToken.Require(filter, "workload filter")}";

    /// <summary>Node info request: <c>$NEX.INFO.&lt;ns&gt;.&lt;node&gt;</c>.</summary>
    /// <param name="ns">Namespace used to filter the machine list.</param>
    /// <param name="nodeId">Node id.</param>
    /// <returns>The subject.</returns>
    public static string Info(string ns, string nodeId) => $"$NEX.INFO.{Ns(ns, true)}.{Node(nodeId)}";

    /// <summary>The pattern a node subscribes to for info requests: <c>$NEX.INFO.*.&lt;node&gt;</c>.</summary>
    /// <param name="nodeId">Node id.</param>
    /// <returns>The subject pattern.</returns>
    public static string InfoPattern(string nodeId) => $"$NEX.INFO.*.{Node(nodeId)}";

    /// <summary>Deploy request: <c>$NEX.DEPLOY.&lt;ns&gt;.&lt;node&gt;</c>.</summary>
    /// <param name="ns">Workload namespace.</param>
    /// <param name="nodeId">Target node id.</param>
    /// <returns>The subject.</returns>
    public static string Deploy(string ns, string nodeId) => $"$NEX.DEPLOY.{Ns(ns)}.{Node(nodeId)}";

    /// <summary>The pattern a node subscribes to for deploy requests: <c>$NEX.DEPLOY.*.&lt;node&gt;</c>.</summary>
    /// <param name="nodeId">Node id.</param>
    /// <returns>The subject pattern.</returns>
    public static string DeployPattern(string nodeId) => $"$NEX.DEPLOY.*.{Node(nodeId)}";

    /// <summary>Stop request: <c>$NEX.STOP.&lt;ns&gt;.&lt;node&gt;</c>.</summary>
    /// <param name="ns">Workload namespace.</param>
    /// <param name="nodeId">Target node id.</param>
    /// <returns>The subject.</returns>
    public static string Stop(string ns, string nodeId) => $"$NEX.STOP.{Ns(ns)}.{Node(nodeId)}";

    /// <summary>The pattern a node subscribes to for stop requests: <c>$NEX.STOP.*.&lt;node&gt;</c>.</summary>
    /// <param name="nodeId">Node id.</param>
    /// <returns>The subject pattern.</returns>
    public static string StopPattern(string nodeId) => $"$NEX.STOP.*.{Node(nodeId)}";

    /// <summary>Lame duck request: <c>$NEX.LAMEDUCK.&lt;node&gt;</c>.</summary>
    /// <param name="nodeId">Node id.</param>
    /// <returns>The subject.</returns>
    public static string LameDuck(string nodeId) => $"$NEX.LAMEDUCK.{Node(nodeId)}";

    /// <summary>Event subject: <c>$NEX.events.&lt;ns&gt;.&lt;type&gt;</c>.</summary>
    /// <param name="ns">Namespace (<see cref="SystemNamespace"/> for node events), or <c>*</c>.</param>
    /// <param name="eventType">Event type (see <see cref="EventTypes"/>), or <c>*</c>.</param>
    /// <returns>The subject.</returns>
    public static string Event(string ns, string eventType) => $"$NEX.events.{Ns(ns, true)}.{SubjectToken.Require(eventType, "event type", allowWildcard: true)}";

    /// <summary>Log subject: <c>$NEX.logs.&lt;ns&gt;.&lt;node&gt;.&lt;a&gt;.&lt;b&gt;</c>.</summary>
    /// <remarks>
    /// Go agents publish with <paramref name="a"/> = vm id and <paramref name="b"/> = workload name; Go nodes
    /// publish their own lines with name then vm id (spec §7.4). Any token may be <c>*</c> when subscribing.
    /// </remarks>
    /// <param name="ns">Namespace.</param>
    /// <param name="nodeId">Node id.</param>
    /// <param name="a">Fifth token.</param>
    /// <param name="b">Sixth token.</param>
    /// <returns>The subject.</returns>
    public static string Log(string ns, string nodeId, string a, string b) =>
        $"$NEX.logs.{Ns(ns, true)}.{SubjectToken.Require(nodeId, "node id", allowWildcard: true)}.{SubjectToken.Require(a, "log subject token", allowWildcard: true)}.{SubjectToken.Require(b, "log subject token", allowWildcard: true)}";

    // Every token is checked (SubjectToken): a dotted or over-long value must fail here, not at nats-server.
    private static string Ns(string ns, bool allowWildcard = false) => SubjectToken.Require(ns, "namespace", allowWildcard);

    private static string Node(string nodeId) => SubjectToken.Require(nodeId, "node id");

    /// <summary>Reads the namespace (token index 2) from a control subject such as <c>$NEX.DEPLOY.ns.node</c>.</summary>
    /// <param name="subject">The subject.</param>
    /// <param name="ns">The namespace token, or <c>""</c> when absent.</param>
    /// <returns><see langword="false"/> when the subject has no third token or it is empty.</returns>
    public static bool TryGetNamespace(string subject, out string ns)
    {
        ns = TryGetToken(subject, 2) ?? string.Empty;
        return ns.Length > 0;
    }

    /// <summary>Returns the dot-separated token at <paramref name="index"/> (0-based), or null when out of range.</summary>
    /// <param name="subject">The subject.</param>
    /// <param name="index">Token index.</param>
    /// <returns>The token (possibly empty for malformed subjects such as <c>a..b</c>), or <see langword="null"/>.</returns>
    public static string? TryGetToken(string subject, int index)
    {
        if (string.IsNullOrEmpty(subject) || index < 0)
        {
            return null;
        }

        var start = 0;
        for (var i = 0; i < index; i++)
        {
            var dot = subject.IndexOf('.', start);
            if (dot < 0)
            {
                return null;
            }

            start = dot + 1;
        }

        var end = subject.IndexOf('.', start);
        return end < 0 ? subject[start..] : subject[start..end];
    }
}
