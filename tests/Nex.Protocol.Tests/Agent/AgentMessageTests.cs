using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Agent;

public class AgentMessageTests
{
    [Fact]
    public void Agent_subjects_match_spec()
    {
        Assert.Equal("hostint.W1.handshake", AgentSubjects.Handshake("W1"));
        Assert.Equal("hostint.W1.events.workload_deployed", AgentSubjects.Events("W1", EventTypes.WorkloadDeployed));
        Assert.Equal("hostint.W1.events.*", AgentSubjects.EventsWildcard("W1"));
        Assert.Equal("hostint.W1.logs", AgentSubjects.Logs("W1"));
        Assert.Equal("agentint.W1.deploy", AgentSubjects.Deploy("W1"));
        Assert.Equal("agentint.W1.undeploy", AgentSubjects.Undeploy("W1"));
        Assert.Equal("agentint.W1.ping", AgentSubjects.AgentPing("W1"));
        Assert.Equal("agentint.W1.trigger", AgentSubjects.Trigger("W1"));
        Assert.Equal("hostint.W1.rpc.default.kvhostservice.kv.set", AgentSubjects.HostServicesRpc("W1", "default", "kvhostservice", "kv", "set"));
        Assert.Equal("x-nex-trigger-subject", AgentSubjects.TriggerSubjectHeader);
        Assert.Equal("x-nex-runtime-ns", AgentSubjects.RuntimeNsHeader);
        Assert.True(AgentSubjects.TryParseHostServicesRpc(AgentSubjects.HostServicesRpc("W1", "a", "b", "c", "d"), out var call));
        Assert.Equal(new HostServicesRpcSubject("W1", "a", "b", "c", "d"), call);
        Assert.True(SubjectMatcher.Collides(AgentSubjects.HostServicesRpcCalls("W1"), AgentSubjects.HostServicesRpc("W1", "a", "b", "c", "d")));
        Assert.False(AgentSubjects.TryParseHostServicesRpc("hostint.W1.rpc.a.b.c", out _));
        Assert.False(AgentSubjects.TryParseHostServicesRpc("hostint.W1.rpc.a.b.c.d.e", out _));
        Assert.False(AgentSubjects.TryParseHostServicesRpc("hostint.W1.rpc.a..c.d", out _));
        Assert.False(AgentSubjects.TryParseHostServicesRpc("agentint.W1.rpc.a.b.c.d", out _));
    }

    [Fact]
    public void Handshake_round_trips()
    {
        var json = """{"id":"cq2v4h3m0lq6c5k2m3ig","start_time":"2024-07-02T10:11:12.123456789Z","message":"Host-supplied metadata"}""";

        var handshake = JsonSerializer.Deserialize(json, NexJson.Context.HandshakeRequest)!;

        Assert.Equal("cq2v4h3m0lq6c5k2m3ig", handshake.Id);
        Assert.Equal(new DateTimeOffset(2024, 7, 2, 10, 11, 12, TimeSpan.Zero).AddTicks(1234567), handshake.StartTime);
        Assert.Equal("Host-supplied metadata", handshake.Message);
        Assert.Equal(
            """{"id":"cq2v4h3m0lq6c5k2m3ig","start_time":"2024-07-02T10:11:12.1234567Z","message":"Host-supplied metadata"}""",
            JsonSerializer.Serialize(handshake, NexJson.Context.HandshakeRequest));
        Assert.Equal("{}", JsonSerializer.Serialize(new HandshakeResponse(), NexJson.Context.HandshakeResponse));
    }

    [Fact]
    public void AgentDeployRequest_minimal_writes_only_always_present_fields()
    {
        var json = JsonSerializer.Serialize(new AgentDeployRequest(), NexJson.Context.AgentDeployRequest);

        Assert.Equal("""{"description":null,"environment":{},"trigger_subjects":null}""", json);
    }

    [Fact]
    public void AgentDeployRequest_full_uses_spec_names_and_order()
    {
        var request = new AgentDeployRequest
        {
            Argv = ["a"],
            Description = "d",
            Environment = new Dictionary<string, string> { ["K"] = "v" },
            Essential = true,
            Hash = "abc",
            Namespace = "default",
            RetriedAt = new DateTimeOffset(2024, 7, 2, 10, 11, 12, TimeSpan.Zero),
            RetryCount = 2,
            TotalBytes = 1234,
            TriggerSubjects = ["t.>"],
            TriggerConnection = new NatsJwtConnectionInfo { NatsUrl = "u", NatsUserJwt = "j", NatsUserSeed = "s" },
            WorkloadName = "echo",
            WorkloadType = WorkloadTypes.Native,
            HostServices = new NatsJwtConnectionInfo { NatsUrl = "h" },
        };

        var json = JsonSerializer.Serialize(request, NexJson.Context.AgentDeployRequest);

        Assert.Equal(
            ["argv", "description", "environment", "essential", "hash", "namespace", "retried_at", "retry_count", "total_bytes",
             "trigger_subjects", "trigger_connection", "workload_name", "workload_type", "host_services"],
            JsonAssert.PropertyNames(json));
        Assert.Contains("\"workload_type\":\"native\"", json, StringComparison.Ordinal);
        Assert.Contains("\"retried_at\":\"2024-07-02T10:11:12Z\"", json, StringComparison.Ordinal);

        var back = JsonSerializer.Deserialize(json, NexJson.Context.AgentDeployRequest)!;
        Assert.Equal("v", back.Environment["K"]);
        Assert.Equal(1234, back.TotalBytes);
        Assert.Equal(2u, back.RetryCount);
        Assert.Equal(request.TriggerConnection, back.TriggerConnection);
        Assert.Equal(["t.>"], back.TriggerSubjects!);
    }

    [Fact]
    public void AgentDeployRequest_omits_zero_values()
    {
        var json = JsonSerializer.Serialize(
            new AgentDeployRequest { Argv = [], Essential = false, RetryCount = 0, TotalBytes = 0, TriggerSubjects = [] },
            NexJson.Context.AgentDeployRequest);

        Assert.Equal("""{"description":null,"environment":{},"trigger_subjects":[]}""", json);
    }

    [Fact]
    public void AgentDeployResponse_round_trips()
    {
        var accepted = JsonSerializer.Deserialize("""{"accepted":true,"message":"Workload deployed"}""", NexJson.Context.AgentDeployResponse)!;
        Assert.True(accepted.Accepted);
        Assert.Equal("Workload deployed", accepted.Message);

        var rejected = JsonSerializer.Deserialize("""{"accepted":false,"message":null}""", NexJson.Context.AgentDeployResponse)!;
        Assert.False(rejected.Accepted);
        Assert.Null(rejected.Message);
    }

    [Fact]
    public void AgentLogEntry_is_all_omitempty()
    {
        Assert.Equal("{}", JsonSerializer.Serialize(new AgentLogEntry(), NexJson.Context.AgentLogEntry));
        Assert.Equal("{}", JsonSerializer.Serialize(new AgentLogEntry { Source = "", Level = 0, Text = "" }, NexJson.Context.AgentLogEntry));
        Assert.Equal(
            """{"source":"nex-agent","level":4,"text":"hello\n"}""",
            JsonSerializer.Serialize(new AgentLogEntry { Source = "nex-agent", Level = 4, Text = "hello\n" }, NexJson.Context.AgentLogEntry));

        var parsed = JsonSerializer.Deserialize("""{"level":2,"text":"boom"}""", NexJson.Context.AgentLogEntry)!;
        Assert.Equal(2, parsed.Level);
        Assert.Null(parsed.Source);
    }
}
