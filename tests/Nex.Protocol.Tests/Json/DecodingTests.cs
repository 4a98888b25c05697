using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Json;

public class DecodingTests
{
    [Fact]
    public void Property_names_match_case_insensitively_and_unknown_fields_are_ignored()
    {
        var json = """{"NODE_ID":"N","Version":"v","UpTime":"1s","target_XKEY":"X","Running_Machines":3,"surprise":{"deep":[1,2]}}""";

        var ping = JsonSerializer.Deserialize(json, NexJson.Context.PingResponse)!;

        Assert.Equal(new PingResponse { NodeId = "N", Version = "v", Uptime = "1s", TargetXkey = "X", RunningMachines = 3 }, ping);
    }

    [Theory]
    [InlineData("""{"type":5}""")]
    [InlineData("""{"type":true}""")]
    [InlineData("""{"argv":"x"}""")]
    [InlineData("""{"essential":"true"}""")]
    [InlineData("""{"retry_count":"1"}""")]
    [InlineData("""{"retry_count":-1}""")]
    [InlineData("""{"retry_count":1.5}""")]
    [InlineData("""{"retried_at":"yesterday"}""")]
    [InlineData("""{"retried_at":12}""")]
    [InlineData("""{"trigger_connection":"nats://x"}""")]
    public void Wrong_types_fail_with_JsonException(string json)
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, NexJson.Context.DeployRequest));
    }

    [Fact]
    public void Numbers_as_strings_are_rejected()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"running_machines":"2"}""", NexJson.Context.PingResponse));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize("""{"total":"2"}""", NexJson.Context.MemoryStat));
    }

    [Fact]
    public void Missing_fields_get_go_zero_values()
    {
        var request = JsonSerializer.Deserialize("{}", NexJson.Context.DeployRequest)!;

        Assert.Equal(string.Empty, request.Type);
        Assert.Equal(string.Empty, request.WorkloadJwt);
        Assert.Equal(string.Empty, request.Environment);
        Assert.Null(request.Description);
        Assert.Null(request.Essential);
        Assert.Same(WorkloadLocation.Empty, request.Location);
    }

    [Theory]
    [InlineData("2024-07-02T10:11:12.123456789Z", 2024, 7, 2, 10, 11, 12, 1234567, 0)]
    [InlineData("2024-07-02T10:11:12Z", 2024, 7, 2, 10, 11, 12, 0, 0)]
    [InlineData("2024-07-02T10:11:12.5+02:00", 2024, 7, 2, 10, 11, 12, 5000000, 120)]
    [InlineData("2024-07-02t10:11:12.1-05:30", 2024, 7, 2, 10, 11, 12, 1000000, -330)]
    public void Timestamps_read_rfc3339_with_any_fraction(string text, int y, int mo, int d, int h, int mi, int s, int ticks, int offsetMinutes)
    {
        var request = JsonSerializer.Deserialize($$"""{"retried_at":"{{text}}"}""", NexJson.Context.DeployRequest)!;

        var expected = new DateTimeOffset(y, mo, d, h, mi, s, TimeSpan.FromMinutes(offsetMinutes)).AddTicks(ticks);
        Assert.Equal(expected, request.RetriedAt);
        Assert.Equal(expected.Offset, request.RetriedAt!.Value.Offset);
    }

    [Theory]
    [InlineData("2024-07-02 10:11:12Z")]
    [InlineData("2024-07-02T10:11:12")]
    [InlineData("2024-13-02T10:11:12Z")]
    [InlineData("2024-02-30T10:11:12Z")]
    [InlineData("2024-07-02T10:11:12.Z")]
    [InlineData("2024-07-02T10:11:12+0200")]
    public void Invalid_timestamps_are_rejected(string text)
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize($$"""{"retried_at":"{{text}}"}""", NexJson.Context.DeployRequest));
    }

    [Theory]
    [InlineData(0, "2024-07-02T10:11:12Z")]
    [InlineData(1, "2024-07-02T10:11:12.0000001Z")]
    [InlineData(1_230_000, "2024-07-02T10:11:12.123Z")]
    [InlineData(1_234_567, "2024-07-02T10:11:12.1234567Z")]
    public void Timestamps_write_utc_rfc3339_nano_without_trailing_zeros(int ticks, string expected)
    {
        var time = new DateTimeOffset(2024, 7, 2, 12, 11, 12, TimeSpan.FromHours(2)).AddTicks(ticks);

        var json = JsonSerializer.Serialize(new HandshakeRequest { Id = "i", StartTime = time, Message = "m" }, NexJson.Context.HandshakeRequest);

        Assert.Equal($$"""{"id":"i","start_time":"{{expected}}","message":"m"}""", json);
    }

    [Fact]
    public void Level_strings_are_not_escaped()
    {
        var json = JsonSerializer.Serialize(new RawLog { Text = "a<b>&'c\"", Level = "INFO+2", Id = "x" }, NexJson.Context.RawLog);

        Assert.Equal("""{"text":"a<b>&'c\"","level":"INFO+2","id":"x"}""", json);
    }

    [Fact]
    public void Helper_collection_types_are_available()
    {
        Assert.Equal("""{"a":"b"}""", JsonSerializer.Serialize(new Dictionary<string, string> { ["a"] = "b" }, NexJson.Context.DictionaryStringString));
        Assert.Equal("""["x"]""", JsonSerializer.Serialize(new List<string> { "x" }, NexJson.Context.ListString));
        Assert.Equal("""["y"]""", JsonSerializer.Serialize(new[] { "y" }, NexJson.Context.StringArray));
    }

    [Fact]
    public void Json_null_for_a_string_leaves_the_go_zero_value()
    {
        var request = JsonSerializer.Deserialize("""{"type":null,"workload_jwt":null,"location":null,"description":null}""", NexJson.Context.DeployRequest)!;

        Assert.Equal(string.Empty, request.Type);
        Assert.Equal(string.Empty, request.WorkloadJwt);
        Assert.Same(WorkloadLocation.Empty, request.Location);
        Assert.Null(request.Description);
    }

    [Fact]
    public void WorkloadPingResponse_round_trips()
    {
        var json = """{"node_id":"N","target_xkey":"X","version":"0.2.7","uptime":"5s","running_machines":[{"id":"cq2v4h3m0lq6c5k2m3ig","namespace":"default","name":"echo","type":"native"}]}""";

        var response = JsonSerializer.Deserialize(json, NexJson.Context.WorkloadPingResponse)!;

        var machine = Assert.Single(response.RunningMachines);
        Assert.Equal(new WorkloadPingMachine { Id = "cq2v4h3m0lq6c5k2m3ig", Namespace = "default", Name = "echo", Type = "native" }, machine);
        Assert.Equal(json, JsonSerializer.Serialize(response, NexJson.Context.WorkloadPingResponse));
        Assert.Empty(JsonSerializer.Deserialize("{}", NexJson.Context.WorkloadPingResponse)!.RunningMachines);
    }
}
