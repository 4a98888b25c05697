using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Control;

public class WorkloadLocationTests
{
    [Fact]
    public void Parse_splits_bucket_and_key()
    {
        var location = WorkloadLocation.Parse("nats://NEXCLIFILES/echoservice");

        Assert.Equal("nats", location.Scheme);
        Assert.Equal("NEXCLIFILES", location.Host);
        Assert.Equal("/echoservice", location.Path);
        Assert.Equal("NEXCLIFILES", location.Bucket);
        Assert.Equal("echoservice", location.Key);
        Assert.Equal("nats://NEXCLIFILES/echoservice", location.ToString());
    }

    [Fact]
    public void Key_trims_leading_and_trailing_slashes()
    {
        Assert.Equal("a/b", WorkloadLocation.Parse("nats://B//a/b/").Key);
        Assert.Equal(string.Empty, WorkloadLocation.Parse("nats://B").Key);
    }

    [Fact]
    public void Parse_drops_query_and_fragment_and_decodes_path()
    {
        var location = WorkloadLocation.Parse("nats://B/my%20key?x=1#frag");

        Assert.Equal("/my key", location.Path);
        Assert.Equal("my key", location.Key);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("echoservice")]
    [InlineData("nats:/B/key")]
    [InlineData("://B/key")]
    [InlineData("nats:///key")]
    [InlineData("1ats://B/key")]
    [InlineData("nats://B/with space")]
    public void Parse_rejects_bad_input_with_a_clear_message(string text)
    {
        var ex = Assert.Throws<FormatException>(() => WorkloadLocation.Parse(text));
        Assert.StartsWith("Invalid workload location", ex.Message, StringComparison.Ordinal);
        Assert.False(WorkloadLocation.TryParse(text, out var location));
        Assert.Null(location);
    }

    [Fact]
    public void TryParse_handles_null()
    {
        Assert.False(WorkloadLocation.TryParse(null, out _));
        Assert.Throws<ArgumentNullException>(() => WorkloadLocation.Parse(null!));
    }

    [Fact]
    public void ForObject_builds_nats_url()
    {
        var location = WorkloadLocation.ForObject("NEXCLIFILES", "echofunctionjs");

        Assert.Equal("nats://NEXCLIFILES/echofunctionjs", location.ToString());
        Assert.Equal(WorkloadLocation.Parse("nats://NEXCLIFILES/echofunctionjs"), location);
    }

    [Fact]
    public void Writes_go_url_object_exactly()
    {
        var json = JsonSerializer.Serialize(WorkloadLocation.Parse("nats://NEXCLIFILES/echoservice"), NexJson.Context.WorkloadLocation);

        Assert.Equal(
            """{"Scheme":"nats","Opaque":"","User":null,"Host":"NEXCLIFILES","Path":"/echoservice","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}""",
            json);
    }

    [Fact]
    public void Reads_object_with_any_key_casing_and_ignores_unknown_keys()
    {
        var json = """{"scheme":"nats","OPAQUE":"","user":{"Username":"u"},"hOsT":"MYFILES","path":"/echoservice","Extra":[1,{"a":2}],"OmitHost":false}""";

        var location = JsonSerializer.Deserialize(json, NexJson.Context.WorkloadLocation)!;

        Assert.Equal(WorkloadLocation.Parse("nats://MYFILES/echoservice"), location);
    }

    [Fact]
    public void Reads_plain_url_string()
    {
        var request = JsonSerializer.Deserialize("""{"type":"native","location":"nats://MYFILES/echoservice"}""", NexJson.Context.DeployRequest)!;

        Assert.Equal("MYFILES", request.Location.Bucket);
        Assert.Equal("echoservice", request.Location.Key);
    }

    [Fact]
    public void Null_or_missing_location_reads_as_empty()
    {
        Assert.Same(WorkloadLocation.Empty, JsonSerializer.Deserialize("""{"location":null}""", NexJson.Context.DeployRequest)!.Location);
        Assert.Same(WorkloadLocation.Empty, JsonSerializer.Deserialize("{}", NexJson.Context.DeployRequest)!.Location);
        Assert.Equal(string.Empty, WorkloadLocation.Empty.Bucket);
    }

    [Theory]
    [InlineData("""{"location":5}""")]
    [InlineData("""{"location":{"Host":5}}""")]
    [InlineData("""{"location":"not a url"}""")]
    [InlineData("""{"location":[]}""")]
    public void Bad_location_json_throws_JsonException(string json)
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, NexJson.Context.DeployRequest));
    }
}
