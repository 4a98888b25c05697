using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests;

public sealed class JsonErrorsTests
{
    [Theory]
    [InlineData("""{"trigger_subjects":"orders"}""", "trigger_subjects must be an array of strings")]
    [InlineData("""{"argv":"not-an-array"}""", "argv must be an array of strings")]
    [InlineData("""{"type":5}""", "type must be a string")]
    [InlineData("""{"environment":[1]}""", "environment must be a string")]
    [InlineData("garbage", "invalid JSON: 'g' is an invalid start of a value")]
    public void DeployRequestErrors_NameTheFieldAndTheJsonType_NeverADotNetType(string json, string expected)
    {
        var ex = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize(json, NexJson.Context.DeployRequest));
        var text = JsonErrors.Describe(ex, NexJson.Context.DeployRequest);
        Assert.Equal(expected, text);
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("`1", JsonErrors.Describe(ex), StringComparison.Ordinal);
    }
}
