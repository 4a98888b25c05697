using System.Text.Json;
using Nex.Client;
using Nex.Protocol;

namespace Nex.Cli;

/// <summary>One line of text per event, shared by <c>nex events</c> and <c>nex top</c>.</summary>
internal static class EventText
{
    /// <summary>A one-line summary of <paramref name="message"/>; its raw body when it did not parse.</summary>
    public static string Describe(NexEventMessage message)
    {
        if (message.Event is not { } e)
        {
            return System.Text.Encoding.UTF8.GetString(message.Raw.Span);
        }

        var data = e.Data;
        string S(string field) => data.ValueKind == JsonValueKind.Object && data.TryGetProperty(field, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.ToString()
            : "";
        return e.Type switch
        {
            EventTypes.NodeStarted => $"node {S("id")} started (version {S("version")})",
            EventTypes.NodeStopped => $"node {S("id")} stopped",
            EventTypes.NodeEnteredLameDuck => $"node {S("id")} entered lame duck mode",
            EventTypes.Heartbeat => $"node {S("node_id")} heartbeat: {S("running_machines")} workloads, up {S("uptime")}",
            EventTypes.WorkloadDeployed => $"workload {S("workload_name")} deployed ({e.Source})",
            EventTypes.WorkloadUndeployed => $"workload {(S("workload_name") is { Length: > 0 } n ? n : S("name"))} undeployed: {(S("message") is { Length: > 0 } m ? m : S("reason"))} (code {S("code")})",
            EventTypes.FunctionExecSucceeded => $"function {S("workload_name")} on {S("trigger_subject")} succeeded in {S("elapsed_nanos")}ns",
            EventTypes.FunctionExecFailed => $"function {S("workload_name")} on {S("trigger_subject")} failed: {S("error")}",
            _ => $"{e.Source} {data}",
        };
    }
}
