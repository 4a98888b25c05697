using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Control;

public class OmitEmptyTests
{
    [Fact]
    public void PingResponse_without_tags_or_nexus_omits_them()
    {
        var json = JsonSerializer.Serialize(new PingResponse { NodeId = "N", Version = "v", Uptime = "1s", TargetXkey = "X" }, NexJson.Context.PingResponse);

        Assert.Equal("""{"node_id":"N","version":"v","uptime":"1s","target_xkey":"X","running_machines":0}""", json);
    }

    [Fact]
    public void PingResponse_with_empty_tags_and_empty_nexus_omits_them()
    {
        var json = JsonSerializer.Serialize(
            new PingResponse { NodeId = "N", Nexus = "", Tags = new Dictionary<string, string>() },
            NexJson.Context.PingResponse);

        Assert.DoesNotContain("tags", json, StringComparison.Ordinal);
        Assert.DoesNotContain("nexus", json, StringComparison.Ordinal);
    }

    [Fact]
    public void PingResponse_with_tags_writes_them_in_go_field_order()
    {
        var json = JsonSerializer.Serialize(
            new PingResponse { NodeId = "N", Nexus = "nexus", Version = "v", Uptime = "1s", TargetXkey = "X", Tags = new Dictionary<string, string> { ["a"] = "b" }, RunningMachines = 2 },
            NexJson.Context.PingResponse);

        Assert.Equal("""{"node_id":"N","nexus":"nexus","version":"v","uptime":"1s","target_xkey":"X","tags":{"a":"b"},"running_machines":2}""", json);
    }

    [Fact]
    public void InfoResponse_with_no_machines_writes_empty_array()
    {
        var json = JsonSerializer.Serialize(new InfoResponse { Version = "v", Uptime = "1s", PublicXkey = "X" }, NexJson.Context.InfoResponse);

        Assert.Equal("""{"version":"v","uptime":"1s","public_xkey":"X","machines":[]}""", json);
    }

    [Fact]
    public void InfoResponse_machines_is_never_null()
    {
        var info = new InfoResponse { Machines = null! };
        Assert.NotNull(info.Machines);

        var parsed = JsonSerializer.Deserialize("""{"machines":null}""", NexJson.Context.InfoResponse)!;
        Assert.Empty(parsed.Machines);
        Assert.Contains("\"machines\":[]", JsonSerializer.Serialize(parsed, NexJson.Context.InfoResponse), StringComparison.Ordinal);
    }

    [Fact]
    public void InfoResponse_omits_empty_supported_types_and_null_memory()
    {
        var json = JsonSerializer.Serialize(new InfoResponse { SupportedWorkloadTypes = [] }, NexJson.Context.InfoResponse);

        Assert.DoesNotContain("supported_workload_types", json, StringComparison.Ordinal);
        Assert.DoesNotContain("memory", json, StringComparison.Ordinal);
    }

    [Fact]
    public void MachineSummary_omits_empty_namespace_and_description_but_keeps_workload()
    {
        var json = JsonSerializer.Serialize(new MachineSummary { Id = "i", Healthy = true, Uptime = "1s" }, NexJson.Context.MachineSummary);

        Assert.Equal("""{"id":"i","healthy":true,"uptime":"1s","workload":{"name":"","runtime":"","type":"","hash":""}}""", json);
    }

    [Fact]
    public void AgentDeployResponse_writes_null_message()
    {
        var json = JsonSerializer.Serialize(new AgentDeployResponse { Accepted = false }, NexJson.Context.AgentDeployResponse);

        Assert.Equal("""{"accepted":false,"message":null}""", json);
    }

    [Fact]
    public void AuctionRequest_empty_is_empty_object_and_pointer_fields_keep_false()
    {
        Assert.Equal("{}", JsonSerializer.Serialize(new AuctionRequest(), NexJson.Context.AuctionRequest));
        Assert.Equal(
            """{"arch":"amd64","sandboxed":false,"workload_types":["v8"]}""",
            JsonSerializer.Serialize(new AuctionRequest { Arch = "amd64", Sandboxed = false, Tags = new Dictionary<string, string>(), WorkloadTypes = ["v8"] }, NexJson.Context.AuctionRequest));
    }

    [Fact]
    public void Options_and_context_share_the_same_semantics()
    {
        var viaOptions = (System.Text.Json.Serialization.Metadata.JsonTypeInfo<PingResponse>)NexJson.Options.GetTypeInfo(typeof(PingResponse));

        Assert.Equal(
            JsonSerializer.Serialize(new PingResponse { NodeId = "N" }, NexJson.Context.PingResponse),
            JsonSerializer.Serialize(new PingResponse { NodeId = "N" }, viaOptions));
        Assert.Same(NexJson.Options, NexJson.Context.Options);
    }

    [Fact]
    public void Modifier_can_be_reused_by_other_resolvers()
    {
        var options = new JsonSerializerOptions
        {
            TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.WithAddedModifier(new NexJsonContext(), NexJson.OmitEmptyModifier),
        };

        Assert.Equal("""{"accepted":true,"message":null}""", JsonSerializer.Serialize(new AgentDeployResponse { Accepted = true }, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<AgentDeployResponse>)options.GetTypeInfo(typeof(AgentDeployResponse))));
        Assert.Equal("{}", JsonSerializer.Serialize(new AgentLogEntry { Level = 0, Text = "" }, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<AgentLogEntry>)options.GetTypeInfo(typeof(AgentLogEntry))));
    }

    [Fact]
    public void Nested_types_get_omitempty_too()
    {
        var info = new InfoResponse { Machines = [new MachineSummary { Id = "i", Namespace = "", Workload = new WorkloadSummary { Name = "w", Description = "" } }] };

        var json = JsonSerializer.Serialize(info, NexJson.Context.InfoResponse);

        Assert.DoesNotContain("namespace", json, StringComparison.Ordinal);
        Assert.DoesNotContain("description", json, StringComparison.Ordinal);
        Assert.Contains("\"workload\":{\"name\":\"w\",\"runtime\":\"\",\"type\":\"\",\"hash\":\"\"}", json, StringComparison.Ordinal);
    }
}
