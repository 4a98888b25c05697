using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Events;

public class CloudEventTests
{
    private const string ForwardedEvent = """
        {"specversion":"1.0","id":"8e0c…","source":"NDQX…-cq2v4h3m0lq6c5k2m3ig","type":"workload_undeployed",
         "datacontenttype":"application/json","time":"2024-07-02T10:11:12.123456789Z","namespace":"default",
         "data":{"workload_name":"echoservice","code":2,"message":"Exited workload: echoservice; vm: cq2v4h3m0lq6c5k2m3ig; status: 2"}}
        """;

    [Fact]
    public void Spec_example_event_deserializes()
    {
        var evt = JsonSerializer.Deserialize(ForwardedEvent, NexJson.Context.CloudEvent)!;

        Assert.Equal("1.0", evt.SpecVersion);
        Assert.Equal("8e0c…", evt.Id);
        Assert.Equal("NDQX…-cq2v4h3m0lq6c5k2m3ig", evt.Source);
        Assert.Equal(EventTypes.WorkloadUndeployed, evt.Type);
        Assert.Equal("application/json", evt.DataContentType);
        Assert.Equal(new DateTimeOffset(2024, 7, 2, 10, 11, 12, TimeSpan.Zero).AddTicks(1234567), evt.Time);
        Assert.Equal("default", evt.Namespace);

        var data = evt.GetData(NexJson.Context.WorkloadUndeployedEvent)!;
        Assert.Equal("echoservice", data.WorkloadName);
        Assert.Equal(2, data.Code);
        Assert.Equal("Exited workload: echoservice; vm: cq2v4h3m0lq6c5k2m3ig; status: 2", data.Message);
        Assert.Null(data.Name);
    }

    [Fact]
    public void Spec_example_event_round_trips()
    {
        var evt = JsonSerializer.Deserialize(ForwardedEvent, NexJson.Context.CloudEvent)!;
        var json = JsonSerializer.Serialize(evt, NexJson.Context.CloudEvent);

        Assert.Equal(
            ["specversion", "id", "source", "type", "datacontenttype", "time", "namespace", "data"],
            JsonAssert.PropertyNames(json));
        Assert.Contains("\"time\":\"2024-07-02T10:11:12.1234567Z\"", json, StringComparison.Ordinal);
        JsonAssert.EquivalentJson(ForwardedEvent.Replace("123456789Z", "1234567Z", StringComparison.Ordinal), json);
    }

    [Fact]
    public void Create_builds_node_event_without_namespace()
    {
        var time = new DateTimeOffset(2024, 7, 2, 12, 0, 0, TimeSpan.FromHours(2));
        var evt = CloudEvent.Create("NABC", EventTypes.NodeStopped, time, new NodeStoppedEvent { Id = "NABC", Graceful = true }, NexJson.Context.NodeStoppedEvent);

        Assert.True(Guid.TryParse(evt.Id, out var id));
        Assert.Equal(4, id.Version);
        Assert.Null(evt.Namespace);

        var json = JsonSerializer.Serialize(evt, NexJson.Context.CloudEvent);
        Assert.Equal(
            $$$"""{"specversion":"1.0","id":"{{{evt.Id}}}","source":"NABC","type":"node_stopped","datacontenttype":"application/json","time":"2024-07-02T10:00:00Z","data":{"id":"NABC","graceful":true}}""",
            json);
    }

    [Fact]
    public void Create_with_namespace_and_with_expression_for_forwarding()
    {
        var evt = CloudEvent.Create("vm1", EventTypes.WorkloadDeployed, DateTimeOffset.UnixEpoch, new WorkloadDeployedEvent { WorkloadName = "echo" }, NexJson.Context.WorkloadDeployedEvent);
        var forwarded = evt with { Source = "NABC-vm1", Namespace = "default" };

        var json = JsonSerializer.Serialize(forwarded, NexJson.Context.CloudEvent);

        Assert.Contains("\"namespace\":\"default\"", json, StringComparison.Ordinal);
        Assert.Contains("\"data\":{\"workload_name\":\"echo\",\"code\":0}", json, StringComparison.Ordinal);
        Assert.NotEqual(evt.Id, CloudEvent.Create("vm1", "x", DateTimeOffset.UnixEpoch, 1.ToString(System.Globalization.CultureInfo.InvariantCulture), NexJson.Context.String).Id);
    }

    [Fact]
    public void GetData_returns_default_without_data()
    {
        var evt = JsonSerializer.Deserialize("""{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2024-07-02T10:11:12Z"}""", NexJson.Context.CloudEvent)!;

        Assert.Equal(JsonValueKind.Undefined, evt.Data.ValueKind);
        Assert.Null(evt.GetData(NexJson.Context.HeartbeatEvent));
        Assert.DoesNotContain("\"data\":", JsonSerializer.Serialize(evt, NexJson.Context.CloudEvent), StringComparison.Ordinal);
    }

    [Fact]
    public void Event_type_constants_match_spec()
    {
        Assert.Equal("node_started", EventTypes.NodeStarted);
        Assert.Equal("node_stopped", EventTypes.NodeStopped);
        Assert.Equal("node_entered_lameduck", EventTypes.NodeEnteredLameDuck);
        Assert.Equal("heartbeat", EventTypes.Heartbeat);
        Assert.Equal("workload_deployed", EventTypes.WorkloadDeployed);
        Assert.Equal("workload_undeployed", EventTypes.WorkloadUndeployed);
        Assert.Equal("function_exec_succeeded", EventTypes.FunctionExecSucceeded);
        Assert.Equal("function_exec_failed", EventTypes.FunctionExecFailed);
        Assert.Equal("agent_started", EventTypes.AgentStarted);
        Assert.Equal("agent_stopped", EventTypes.AgentStopped);
    }
}
