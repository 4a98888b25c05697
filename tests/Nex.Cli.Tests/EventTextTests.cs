using System.Text;
using System.Text.Json;
using Nex.Client;
using Nex.Protocol;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>The one-line event summaries <c>nex events</c> and <c>nex top</c> share.</summary>
public sealed class EventTextTests
{
    private static NexEventMessage Message(string ns, string type, string json)
    {
        var raw = Encoding.UTF8.GetBytes(json);
        CloudEvent? parsed = null;
        try
        {
            parsed = JsonSerializer.Deserialize(raw, NexJson.Context.CloudEvent);
        }
        catch (JsonException)
        {
        }

        return new NexEventMessage(ns, type, parsed, raw);
    }

    [Fact]
    public void Describe_NamesTheWorkloadAndWhatHappened()
    {
        var deployed = Message("default", EventTypes.WorkloadDeployed, """{"specversion":"1.0","id":"1","source":"NBXO","type":"workload_deployed","data":{"workload_name":"echojs"}}""");
        Assert.Equal("workload echojs deployed (NBXO)", EventText.Describe(deployed));

        var failed = Message("default", EventTypes.FunctionExecFailed, """{"specversion":"1.0","id":"2","source":"NBXO","type":"function_exec_failed","data":{"workload_name":"echojs","trigger_subject":"echo.*","error":"boom"}}""");
        Assert.Equal("function echojs on echo.* failed: boom", EventText.Describe(failed));
    }

    [Fact]
    public void Describe_ShowsABodyThatDoesNotParse_AsItCame() =>
        Assert.Equal("not json", EventText.Describe(Message("default", "x", "not json")));
}
