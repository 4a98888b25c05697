using System.Text;
using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Control;

/// <summary>Round-trips the example payloads of spec §13.</summary>
public class GoldenPayloadTests
{
    private const string GoLocation =
        """{"Scheme":"nats","Opaque":"","User":null,"Host":"MYFILES","Path":"/echoservice","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}""";

    private const string DeployRequestJson = $$"""
        {
          "description": "This is the echo service",
          "type": "native",
          "location": {{GoLocation}},
          "essential": false,
          "workload_jwt": "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiI…In0.…",
          "environment": "eGt2MS…",
          "jsdomain": "",
          "sender_public_key": "XBVK…",
          "target_node": "NDQX…"
        }
        """;

    private const string DeploySuccessJson =
        """{"type":"io.nats.nex.v1.run_response","data":{"started":true,"id":"cq2v4h3m0lq6c5k2m3ig","issuer":"AAB…","name":"echoservice"}}""";

    private const string InfoSuccessJson = """
        {"type":"io.nats.nex.v1.info_response","data":{"version":"0.2.7","uptime":"12m3s","public_xkey":"XCT…",
         "tags":{"nex.arch":"amd64","nex.cpucount":"8","nex.os":"linux","node_name":"brave-otter","simple":"true"},
         "memory":{"total":32612044,"free":20001200,"available":28800100},
         "machines":[{"id":"cq2v4h3m0lq6c5k2m3ig","healthy":true,"uptime":"11m58s","namespace":"default",
           "workload":{"name":"echoservice","description":"This is the echo service","runtime":"11m58s","type":"native","hash":"9f2c…e1"}}],
         "supported_workload_types":["native","v8","wasm"]}}
        """;

    [Fact]
    public void DeployRequest_example_deserializes()
    {
        var request = JsonSerializer.Deserialize(DeployRequestJson, NexJson.Context.DeployRequest)!;

        Assert.Equal("This is the echo service", request.Description);
        Assert.Equal(WorkloadTypes.Native, request.Type);
        Assert.Equal("nats", request.Location.Scheme);
        Assert.Equal("MYFILES", request.Location.Bucket);
        Assert.Equal("echoservice", request.Location.Key);
        Assert.False(request.Essential);
        Assert.NotNull(request.Essential);
        Assert.StartsWith("eyJ0eXAi", request.WorkloadJwt, StringComparison.Ordinal);
        Assert.Equal("eGt2MS…", request.Environment);
        Assert.Equal(string.Empty, request.JsDomain);
        Assert.Equal("XBVK…", request.SenderPublicKey);
        Assert.Equal("NDQX…", request.TargetNode);
        Assert.Null(request.Argv);
        Assert.Null(request.TriggerSubjects);
        Assert.Null(request.TriggerConnection);
        Assert.Null(request.RetryCount);
        Assert.Null(request.RetriedAt);
        Assert.Null(request.HostServices);
    }

    [Fact]
    public void DeployRequest_example_round_trips_with_same_fields_and_exact_location_text()
    {
        var request = JsonSerializer.Deserialize(DeployRequestJson, NexJson.Context.DeployRequest)!;
        var json = JsonSerializer.Serialize(request, NexJson.Context.DeployRequest);

        JsonAssert.EquivalentJson(DeployRequestJson, json);
        Assert.Contains("\"location\":" + GoLocation, json, StringComparison.Ordinal);
        Assert.Equal(
            ["description", "type", "location", "essential", "workload_jwt", "environment", "jsdomain", "sender_public_key", "target_node"],
            JsonAssert.PropertyNames(json));
    }

    [Fact]
    public void DeploySuccess_example_parses_and_is_reproduced_byte_for_byte()
    {
        var result = NexEnvelope.Parse(Encoding.UTF8.GetBytes(DeploySuccessJson), NexJson.Context.RunResponse);

        Assert.Null(result.Error);
        Assert.True(result.IsSuccess);
        Assert.Equal(ResponseTypes.Run, result.Type);
        Assert.Equal(new RunResponse { Started = true, Id = "cq2v4h3m0lq6c5k2m3ig", Issuer = "AAB…", Name = "echoservice" }, result.Data);

        var bytes = NexEnvelope.Success(ResponseTypes.Run, result.Data!, NexJson.Context.RunResponse);
        Assert.Equal(DeploySuccessJson, Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void InfoSuccess_example_parses_and_round_trips()
    {
        var result = NexEnvelope.Parse(Encoding.UTF8.GetBytes(InfoSuccessJson), NexJson.Context.InfoResponse);

        Assert.Null(result.Error);
        var info = result.Data!;
        Assert.Equal("0.2.7", info.Version);
        Assert.Equal("12m3s", info.Uptime);
        Assert.Equal("XCT…", info.PublicXkey);
        Assert.Equal("brave-otter", info.Tags!["node_name"]);
        Assert.Equal(new MemoryStat { Total = 32612044, Free = 20001200, Available = 28800100 }, info.Memory);
        var machine = Assert.Single(info.Machines);
        Assert.Equal("cq2v4h3m0lq6c5k2m3ig", machine.Id);
        Assert.True(machine.Healthy);
        Assert.Equal("default", machine.Namespace);
        Assert.Equal("echoservice", machine.Workload.Name);
        Assert.Equal("This is the echo service", machine.Workload.Description);
        Assert.Equal("11m58s", machine.Workload.Runtime);
        Assert.Equal("native", machine.Workload.Type);
        Assert.Equal("9f2c…e1", machine.Workload.Hash);
        Assert.Equal(["native", "v8", "wasm"], info.SupportedWorkloadTypes!);

        var bytes = NexEnvelope.Success(ResponseTypes.Info, info, NexJson.Context.InfoResponse);
        JsonAssert.EquivalentJson(InfoSuccessJson, bytes);
    }

    [Fact]
    public void DeployRequest_with_all_optional_fields_round_trips()
    {
        var request = new DeployRequest
        {
            Argv = ["-v", "--port=1"],
            Description = "",
            Type = WorkloadTypes.V8,
            Location = WorkloadLocation.Parse("nats://NEXCLIFILES/echofunctionjs"),
            Essential = true,
            WorkloadJwt = "jwt",
            Environment = "env",
            JsDomain = "hub",
            SenderPublicKey = "XSENDER",
            TargetNode = "NNODE",
            TriggerSubjects = ["hello.>"],
            TriggerConnection = new NatsJwtConnectionInfo { NatsUrl = "nats://a:4222", NatsUserJwt = "", NatsUserSeed = "SU" },
            RetryCount = 3,
            RetriedAt = new DateTimeOffset(2024, 7, 2, 10, 11, 12, 123, TimeSpan.Zero),
            HostServices = new NatsJwtConnectionInfo { NatsUrl = "nats://b:4222" },
        };

        var json = JsonSerializer.Serialize(request, NexJson.Context.DeployRequest);
        var back = JsonSerializer.Deserialize(json, NexJson.Context.DeployRequest)!;

        Assert.Equal(
            ["argv", "description", "type", "location", "essential", "workload_jwt", "environment", "jsdomain", "sender_public_key",
             "target_node", "trigger_subjects", "trigger_connection", "retry_count", "retried_at", "host_services"],
            JsonAssert.PropertyNames(json));
        Assert.Contains("\"retried_at\":\"2024-07-02T10:11:12.123Z\"", json, StringComparison.Ordinal);
        Assert.Contains("\"host_services\":{\"nats_url\":\"nats://b:4222\",\"nats_user_jwt\":\"\",\"nats_user_seed\":\"\"}", json, StringComparison.Ordinal);
        Assert.Equal(request.Argv, back.Argv);
        Assert.Equal(request.TriggerSubjects, back.TriggerSubjects);
        Assert.Equal(request.Location, back.Location);
        Assert.Equal(request.TriggerConnection, back.TriggerConnection);
        Assert.Equal(request.HostServices, back.HostServices);
        Assert.Equal(request.RetriedAt, back.RetriedAt);
        Assert.Equal(3u, back.RetryCount);
        Assert.Equal(string.Empty, back.Description);
        Assert.Equal("hub", back.JsDomain);
        Assert.True(back.Essential);
    }

    [Fact]
    public void DeployRequest_minimal_writes_required_fields_and_omits_pointer_fields()
    {
        var json = JsonSerializer.Serialize(new DeployRequest { Type = "native" }, NexJson.Context.DeployRequest);

        Assert.Equal(["type", "location", "workload_jwt", "environment", "sender_public_key", "target_node"], JsonAssert.PropertyNames(json));
    }
}
