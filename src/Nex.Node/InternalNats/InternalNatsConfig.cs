using System.Globalization;
using System.Text;

namespace Nex.Node.InternalNats;

/// <summary>One workload's account on the internal server: the agent's user and the node's.</summary>
/// <param name="Id">The account's name: the workload (agent) id it was created for, or a spare's name.</param>
/// <param name="AgentUserPublicKey">The agent's user nkey.</param>
/// <param name="NodeUserPublicKey">The node's user nkey inside this account.</param>
internal sealed record WorkloadAccount(string Id, string AgentUserPublicKey, string NodeUserPublicKey);

/// <summary>
/// Renders the internal server's configuration (spec §5.2, restructured): one self-contained
/// account per workload holding exactly two users, the agent and the node. An agent can reach
/// nothing outside its account, so whatever the node receives on that account's connection comes
/// from that agent. There are no imports or exports: nats-server 2.9 orphans the existing
/// subscriptions of any account whose imports or exports change on reload, and here adding or
/// removing a workload changes no other account. <c>nexhost</c> only exists so that the server
/// requires authentication (anonymous clients are refused). No JetStream: a reload briefly stalls
/// it in every account, so artifacts travel over plain request/reply instead.
/// </summary>
internal static class InternalNatsConfig
{
    public const string HostAccount = "nexhost";

    public static string Render(string listenHost, int port, string hostUserPublicKey, IEnumerable<WorkloadAccount> workloads)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"listen: \"{listenHost}:{port}\"\n");
        sb.Append("server_name: nex-internal\n");
        sb.Append("no_sys_acc: true\n");
        sb.Append("max_payload: 8388608\n");
        sb.Append("accounts {\n");
        sb.Append(CultureInfo.InvariantCulture, $"  {HostAccount} {{ users: [ {{ nkey: {hostUserPublicKey} }} ] }}\n");
        foreach (var w in workloads)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {Quote(w.Id)} {{\n");
            sb.Append(CultureInfo.InvariantCulture, $"    users: [ {{ nkey: {w.AgentUserPublicKey} }}, {{ nkey: {w.NodeUserPublicKey} }} ]\n");
            sb.Append("  }\n");
        }

        sb.Append("}\n");
        return sb.ToString();
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
