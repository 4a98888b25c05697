using System.Text;
using Xunit;

namespace Nex.Protocol.Tests.Control;

public class NexEnvelopeTests
{
    [Fact]
    public void Failure_writes_exact_go_bytes()
    {
        var bytes = NexEnvelope.Failure(ResponseTypes.Run, "Node is in lame duck mode. Workload deploy request denied");

        Assert.Equal(
            """{"type":"io.nats.nex.v1.run_response","data":"","error":"Node is in lame duck mode. Workload deploy request denied"}""",
            Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Success_writes_type_then_data_without_error()
    {
        var bytes = NexEnvelope.Success(ResponseTypes.LameDuck, new LameDuckResponse { NodeId = "NABC", Success = true }, NexJson.Context.LameDuckResponse);

        Assert.Equal("""{"type":"io.nats.nex.v1.lameduck_response","data":{"node_id":"NABC","success":true}}""", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Success_applies_omitempty_to_the_payload()
    {
        var bytes = NexEnvelope.Success(ResponseTypes.Ping, new PingResponse { NodeId = "N1", Version = "1", Uptime = "1s", TargetXkey = "X1" }, NexJson.Context.PingResponse);

        Assert.Equal(
            """{"type":"io.nats.nex.v1.ping_response","data":{"node_id":"N1","version":"1","uptime":"1s","target_xkey":"X1","running_machines":0}}""",
            Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Failure_round_trips_through_parse()
    {
        var bytes = NexEnvelope.Failure(ResponseTypes.Stop, "No such workload");
        var result = NexEnvelope.Parse(bytes, NexJson.Context.StopResponse);

        Assert.Equal(ResponseTypes.Stop, result.Type);
        Assert.Null(result.Data);
        Assert.Equal("No such workload", result.Error);
        Assert.False(result.IsSuccess);
    }

    [Fact]
    public void Error_wins_even_when_data_is_present()
    {
        var json = """{"type":"io.nats.nex.v1.stop_response","data":{"stopped":true,"id":"x","issuer":"i","name":"n"},"error":"Failed to stop workload: boom"}"""u8;
        var result = NexEnvelope.Parse(json, NexJson.Context.StopResponse);

        Assert.Equal("Failed to stop workload: boom", result.Error);
        Assert.Null(result.Data);
    }

    [Fact]
    public void Empty_or_null_error_is_not_a_failure()
    {
        var result = NexEnvelope.Parse("""{"type":"t","data":{"node_id":"N","success":true},"error":null}"""u8, NexJson.Context.LameDuckResponse);
        Assert.Null(result.Error);
        Assert.True(result.Data!.Success);

        result = NexEnvelope.Parse("""{"type":"t","data":{"node_id":"N","success":true},"error":""}"""u8, NexJson.Context.LameDuckResponse);
        Assert.Null(result.Error);
        Assert.Equal("N", result.Data!.NodeId);
    }

    [Fact]
    public void Envelope_keys_are_case_insensitive()
    {
        var result = NexEnvelope.Parse("""{"Type":"t","DATA":{"Node_Id":"N","success":true}}"""u8, NexJson.Context.LameDuckResponse);

        Assert.Null(result.Error);
        Assert.Equal("t", result.Type);
        Assert.Equal("N", result.Data!.NodeId);
    }

    [Fact]
    public void Non_string_error_is_reported_as_raw_json()
    {
        var result = NexEnvelope.Parse("""{"type":"t","data":"","error":{"code":5}}"""u8, NexJson.Context.LameDuckResponse);

        Assert.Equal("""{"code":5}""", result.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("{")]
    [InlineData("""{"type":"io.nats.nex.v1.ping_response","data":{"node_id":"N""")]
    [InlineData("[1,2,3]")]
    [InlineData("\"just a string\"")]
    [InlineData("null")]
    [InlineData("""{"type":"t"}""")]
    [InlineData("""{"type":"t","data":null}""")]
    [InlineData("""{"type":"t","data":""}""")]
    [InlineData("""{"type":"t","data":{"running_machines":"3"}}""")]
    [InlineData("""{"type":"t","data":{"node_id":5}}""")]
    [InlineData("""{"type":"t","data":[]}""")]
    [InlineData("""{"type":5,"data":{}}""")]
    [InlineData("""{"type":"t","data":{}} trailing""")]
    [InlineData("\u00ff\u00fe")]
    public void Parse_never_throws_on_garbage(string text)
    {
        var result = NexEnvelope.Parse(Encoding.UTF8.GetBytes(text), NexJson.Context.PingResponse);

        Assert.Null(result.Data);
        Assert.NotNull(result.Error);
        Assert.StartsWith("invalid response envelope: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_reports_bad_data_types_readably()
    {
        var result = NexEnvelope.Parse("""{"type":"t","data":{"running_machines":"3"}}"""u8, NexJson.Context.PingResponse);

        Assert.Equal("t", result.Type);
        Assert.Contains("running_machines", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_accepts_surrounding_whitespace()
    {
        var result = NexEnvelope.Parse("  {\"type\":\"t\",\"data\":{\"node_id\":\"N\",\"success\":true}}\n"u8, NexJson.Context.LameDuckResponse);

        Assert.Null(result.Error);
    }

    [Fact]
    public void Response_type_constants_match_spec()
    {
        Assert.Equal("io.nats.nex.v1.auction_response", ResponseTypes.Auction);
        Assert.Equal("io.nats.nex.v1.info_response", ResponseTypes.Info);
        Assert.Equal("io.nats.nex.v1.ping_response", ResponseTypes.Ping);
        Assert.Equal("io.nats.nex.v1.run_response", ResponseTypes.Run);
        Assert.Equal("io.nats.nex.v1.stop_response", ResponseTypes.Stop);
        Assert.Equal("io.nats.nex.v1.lameduck_response", ResponseTypes.LameDuck);
    }

    [Fact]
    public void Parse_rejects_invalid_utf8_without_throwing()
    {
        byte[] bytes = [.. "{\"type\":\""u8, 0xff, 0xfe, .. "\",\"data\":{}}"u8];

        var result = NexEnvelope.Parse(bytes, NexJson.Context.PingResponse);

        Assert.StartsWith("invalid response envelope: ", result.Error, StringComparison.Ordinal);
    }
}
