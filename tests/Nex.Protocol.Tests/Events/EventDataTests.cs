using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Events;

public class EventDataTests
{
    [Fact]
    public void Node_events_serialize_with_spec_fields()
    {
        Assert.Equal(
            """{"version":"0.2.7","id":"N"}""",
            JsonSerializer.Serialize(new NodeStartedEvent { Version = "0.2.7", Id = "N" }, NexJson.Context.NodeStartedEvent));
        Assert.Equal(
            """{"version":"0.2.7","id":"N","tags":{"a":"b"}}""",
            JsonSerializer.Serialize(new NodeStartedEvent { Version = "0.2.7", Id = "N", Tags = new Dictionary<string, string> { ["a"] = "b" } }, NexJson.Context.NodeStartedEvent));
        Assert.Equal("""{"id":"N","graceful":true}""", JsonSerializer.Serialize(new NodeStoppedEvent { Id = "N", Graceful = true }, NexJson.Context.NodeStoppedEvent));
        Assert.Equal("""{"version":"v","id":"N"}""", JsonSerializer.Serialize(new LameDuckEnteredEvent { Version = "v", Id = "N" }, NexJson.Context.LameDuckEnteredEvent));
    }

    [Fact]
    public void Heartbeat_omits_empty_nexus_and_tags()
    {
        Assert.Equal(
            """{"version":"v","node_id":"N","uptime":"30s","running_machines":0}""",
            JsonSerializer.Serialize(new HeartbeatEvent { Version = "v", NodeId = "N", Uptime = "30s" }, NexJson.Context.HeartbeatEvent));
        Assert.Equal(
            """{"version":"v","node_id":"N","nexus":"nexus","uptime":"30s","tags":{"k":"v"},"running_machines":1}""",
            JsonSerializer.Serialize(
                new HeartbeatEvent { Version = "v", NodeId = "N", Nexus = "nexus", Uptime = "30s", Tags = new Dictionary<string, string> { ["k"] = "v" }, RunningMachines = 1 },
                NexJson.Context.HeartbeatEvent));
    }

    [Fact]
    public void Workload_events_keep_code_zero()
    {
        Assert.Equal(
            """{"workload_name":"echo","code":0}""",
            JsonSerializer.Serialize(new WorkloadDeployedEvent { WorkloadName = "echo" }, NexJson.Context.WorkloadDeployedEvent));
        Assert.Equal(
            """{"workload_name":"echo","code":0}""",
            JsonSerializer.Serialize(new WorkloadUndeployedEvent { WorkloadName = "echo", Message = "" }, NexJson.Context.WorkloadUndeployedEvent));
    }

    [Fact]
    public void Workload_undeployed_carries_node_generated_shape()
    {
        var evt = new WorkloadUndeployedEvent { WorkloadName = "echo", Name = "echo", Reason = "Workload shutdown requested", Vmid = "vm1" };

        Assert.Equal(
            """{"workload_name":"echo","code":0,"name":"echo","reason":"Workload shutdown requested","vmid":"vm1"}""",
            JsonSerializer.Serialize(evt, NexJson.Context.WorkloadUndeployedEvent));

        var goNodeShape = JsonSerializer.Deserialize("""{"name":"echo","reason":"Workload shutdown requested","vmid":"vm1"}""", NexJson.Context.WorkloadUndeployedEvent)!;
        Assert.Equal("echo", goNodeShape.Name);
        Assert.Equal("vm1", goNodeShape.Vmid);
        Assert.Equal(string.Empty, goNodeShape.WorkloadName);
    }

    [Fact]
    public void Function_events_write_all_fields()
    {
        Assert.Equal(
            """{"workload_name":"fn","trigger_subject":"hello.>","elapsed_nanos":1234,"namespace":"default"}""",
            JsonSerializer.Serialize(
                new FunctionExecSucceededEvent { WorkloadName = "fn", TriggerSubject = "hello.>", ElapsedNanos = 1234, Namespace = "default" },
                NexJson.Context.FunctionExecSucceededEvent));
        Assert.Equal(
            """{"workload_name":"fn","trigger_subject":"t","namespace":"default","error":"timeout"}""",
            JsonSerializer.Serialize(
                new FunctionExecFailedEvent { WorkloadName = "fn", TriggerSubject = "t", Namespace = "default", Error = "timeout" },
                NexJson.Context.FunctionExecFailedEvent));
    }
}
