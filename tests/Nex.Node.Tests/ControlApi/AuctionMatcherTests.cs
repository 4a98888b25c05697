using Nex.Node.ControlApi;
using Nex.Protocol;
using Xunit;

namespace Nex.Node.Tests.ControlApi;

/// <summary>Placement (spec §1.5): a node is in an auction only when every rule of the request holds.</summary>
public sealed class AuctionMatcherTests
{
    private static readonly Dictionary<string, string> Tags = new() { ["nex.os"] = "linux", ["nex.arch"] = "amd64", ["zone"] = "EU" };

    [Fact]
    public void NullRequest_Matches() => Assert.True(AuctionMatcher.Matches(null, Tags, true, ["native"]));

    [Fact]
    public void SandboxedFlag_MustEqualNotNoSandbox()
    {
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Sandboxed = true }, Tags, noSandbox: false, ["native"]));
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Sandboxed = true }, Tags, noSandbox: true, ["native"]));
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Sandboxed = false }, Tags, noSandbox: true, ["native"]));
    }

    [Fact]
    public void Tags_AllMustExist_ValuesCaseInsensitive()
    {
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Tags = new Dictionary<string, string> { ["zone"] = "eu" } }, Tags, true, ["native"]));
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Tags = new Dictionary<string, string> { ["ZONE"] = "eu" } }, Tags, true, ["native"]));
    }

    [Fact]
    public void WorkloadTypes_AllMustBeSupported()
    {
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { WorkloadTypes = ["native", "v8"] }, Tags, true, ["native", "v8", "wasm"]));
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { WorkloadTypes = ["native", "v8"] }, Tags, true, ["native"]));
    }

    [Fact]
    public void AnEmptyRequest_Matches() => Assert.True(AuctionMatcher.Matches(new AuctionRequest(), Tags, false, ["native"]));

    [Theory]
    [InlineData("amd64", true)]
    [InlineData("AMD64", true)] // tag values compare case-insensitively
    [InlineData("arm64", false)]
    [InlineData("", true)] // empty: no constraint
    public void Arch_MustBeTheNodes(string arch, bool matches) =>
        Assert.Equal(matches, AuctionMatcher.Matches(new AuctionRequest { Arch = arch }, Tags, false, ["native"]));

    [Theory]
    [InlineData("linux", true)]
    [InlineData("Linux", true)]
    [InlineData("darwin", false)]
    [InlineData("", true)]
    public void Os_MustBeTheNodes(string os, bool matches) =>
        Assert.Equal(matches, AuctionMatcher.Matches(new AuctionRequest { Os = os }, Tags, false, ["native"]));

    [Fact]
    public void ANodeWithoutTheOsOrArchTag_IsOut_WhenTheRequestNamesOne()
    {
        var bare = new Dictionary<string, string>();
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Os = "linux" }, bare, false, ["native"]));
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Arch = "amd64" }, bare, false, ["native"]));
        Assert.True(AuctionMatcher.Matches(new AuctionRequest(), bare, false, ["native"]));
    }

    [Fact]
    public void NoSandboxedPreference_MatchesBothKinds()
    {
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Sandboxed = null }, Tags, noSandbox: true, ["native"]));
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Sandboxed = null }, Tags, noSandbox: false, ["native"]));
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Sandboxed = false }, Tags, noSandbox: false, ["native"]));
    }

    [Fact]
    public void Tags_AMissingTagOrAnotherValue_IsOut_AndNoTagsMatch()
    {
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Tags = new Dictionary<string, string> { ["zone"] = "US" } }, Tags, true, ["native"]));
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { Tags = new Dictionary<string, string> { ["zone"] = "EU", ["rack"] = "1" } }, Tags, true, ["native"]));
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Tags = new Dictionary<string, string>() }, Tags, true, ["native"]));
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { Tags = new Dictionary<string, string> { ["nex.os"] = "LINUX" } }, Tags, true, ["native"]));
    }

    [Fact]
    public void WorkloadTypes_CompareExactly_AndNoneRequestedMatches()
    {
        Assert.False(AuctionMatcher.Matches(new AuctionRequest { WorkloadTypes = ["V8"] }, Tags, true, ["native", "v8"]));
        Assert.True(AuctionMatcher.Matches(new AuctionRequest { WorkloadTypes = [] }, Tags, true, ["native"]));
    }

    [Fact]
    public void EveryRule_MustHold()
    {
        var request = new AuctionRequest { Os = "linux", Arch = "amd64", Sandboxed = true, Tags = new Dictionary<string, string> { ["zone"] = "eu" }, WorkloadTypes = ["native"] };
        Assert.True(AuctionMatcher.Matches(request, Tags, noSandbox: false, ["native"]));
        Assert.False(AuctionMatcher.Matches(request with { Arch = "arm64" }, Tags, noSandbox: false, ["native"]));
        Assert.False(AuctionMatcher.Matches(request, Tags, noSandbox: true, ["native"]));
        Assert.False(AuctionMatcher.Matches(request, Tags, noSandbox: false, ["v8"]));
    }
}
