namespace Nex.Protocol;

/// <summary>Subjects on the node's internal NATS server between node and agent (spec §5.3).</summary>
public static class AgentSubjects
{
    /// <summary>Header carrying the actual subject a trigger message arrived on.</summary>
    public const string TriggerSubjectHeader = "x-nex-trigger-subject";

    /// <summary>Header on a V8 trigger reply carrying the execution time in nanoseconds.</summary>
    public const string RuntimeNsHeader = "x-nex-runtime-ns";

    /// <summary>Agent → node handshake request: <c>hostint.&lt;id&gt;.handshake</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string Handshake(string id) => $"hostint.{Id(id)}.handshake";

    /// <summary>Agent → node event: <c>hostint.&lt;id&gt;.events.&lt;type&gt;</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <param name="eventType">Event type.</param>
    /// <returns>The subject.</returns>
    public static string Events(string id, string eventType) => $"hostint.{Id(id)}.events.{SubjectToken.Require(eventType, "event type")}";

    /// <summary>Node subscription for agent events: <c>hostint.&lt;id&gt;.events.*</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject pattern.</returns>
    public static string EventsWildcard(string id) => $"hostint.{Id(id)}.events.*";

    /// <summary>Agent → node log entries: <c>hostint.&lt;id&gt;.logs</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string Logs(string id) => $"hostint.{Id(id)}.logs";

    /// <summary>
    /// Agent → node artifact download: <c>hostint.&lt;id&gt;.artifact</c> (replaces 0.2's per-account
    /// NEXCACHE object store). The request carries header <see cref="ArtifactOffsetHeader"/>; the
    /// reply is the next chunk, with the whole size in <see cref="ArtifactSizeHeader"/>, or a refusal
    /// in <see cref="ArtifactErrorHeader"/>.
    /// </summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string Artifact(string id) => $"hostint.{Id(id)}.artifact";

    /// <summary>Request header: byte offset of the chunk wanted.</summary>
    public const string ArtifactOffsetHeader = "x-nex-offset";

    /// <summary>Reply header: total artifact size in bytes.</summary>
    public const string ArtifactSizeHeader = "x-nex-size";

    /// <summary>Reply header with which the node refuses an artifact request (its value is the reason).</summary>
    public const string ArtifactErrorHeader = "x-nex-error";

    /// <summary>Largest artifact chunk in one reply.</summary>
    public const int ArtifactChunkSize = 1024 * 1024;

    /// <summary>Node → agent deploy request: <c>agentint.&lt;id&gt;.deploy</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string Deploy(string id) => $"agentint.{Id(id)}.deploy";

    /// <summary>Node → agent undeploy request: <c>agentint.&lt;id&gt;.undeploy</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string Undeploy(string id) => $"agentint.{Id(id)}.undeploy";

    /// <summary>Node → agent liveness ping: <c>agentint.&lt;id&gt;.ping</c> (reply <c>OK</c>).</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string AgentPing(string id) => $"agentint.{Id(id)}.ping";

    /// <summary>Node → agent function trigger: <c>agentint.&lt;id&gt;.trigger</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject.</returns>
    public static string Trigger(string id) => $"agentint.{Id(id)}.trigger";

    /// <summary>Agent → node host-services call: <c>hostint.&lt;id&gt;.rpc.&lt;ns&gt;.&lt;name&gt;.&lt;service&gt;.&lt;method&gt;</c>.</summary>
    /// <param name="id">Workload/agent id.</param>
    /// <param name="ns">Workload namespace.</param>
    /// <param name="name">Workload name.</param>
    /// <param name="service">Service (<c>kv</c>, <c>messaging</c>, <c>objectstore</c>, <c>http</c>).</param>
    /// <param name="method">Method name.</param>
    /// <returns>The subject.</returns>
    public static string HostServicesRpc(string id, string ns, string name, string service, string method)
        => $"hostint.{Id(id)}.rpc.{SubjectToken.Require(ns, "namespace")}.{SubjectToken.Require(name, "workload name")}.{SubjectToken.Require(service, "service")}.{SubjectToken.Require(method, "method")}";

    /// <summary>
    /// Node subscription for one agent's host-services calls: <c>hostint.&lt;id&gt;.rpc.&gt;</c> (wider than a call,
    /// so that a malformed one is answered with an error rather than with no responders).
    /// </summary>
    /// <param name="id">Workload/agent id.</param>
    /// <returns>The subject pattern.</returns>
    public static string HostServicesRpcCalls(string id) => $"hostint.{Id(id)}.rpc.>";

    /// <summary>Reads a host-services call subject (<see cref="HostServicesRpc"/>) back into its parts.</summary>
    /// <param name="subject">The subject a call arrived on.</param>
    /// <param name="call">Its parts, when it is one.</param>
    /// <returns>Whether <paramref name="subject"/> is a well-formed call subject.</returns>
    public static bool TryParseHostServicesRpc(string subject, out HostServicesRpcSubject call)
    {
        call = default;
        var tokens = subject.Split('.');
        if (tokens is not ["hostint", var id, "rpc", var ns, var name, var service, var method] || tokens.Any(t => t.Length == 0))
        {
            return false;
        }

        call = new HostServicesRpcSubject(id, ns, name, service, method);
        return true;
    }

    // Ids are xids in practice; checked so that no caller can build an oversized or dotted subject.
    private static string Id(string id) => SubjectToken.Require(id, "workload id");
}

/// <summary>The parts of a host-services call subject: <c>hostint.&lt;id&gt;.rpc.&lt;ns&gt;.&lt;name&gt;.&lt;service&gt;.&lt;method&gt;</c>.</summary>
/// <param name="Id">Workload/agent id.</param>
/// <param name="Namespace">Namespace the agent claims (the node uses its own record, not this; 0.2 trusted it, §11 #16).</param>
/// <param name="Name">Workload name the agent claims (informational, as the namespace).</param>
/// <param name="Service">Service.</param>
/// <param name="Method">Method.</param>
public readonly record struct HostServicesRpcSubject(string Id, string Namespace, string Name, string Service, string Method);
