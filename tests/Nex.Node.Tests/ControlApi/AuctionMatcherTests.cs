using Nex.Node.ControlApi;
using Nex.Protocol;
using Xunit;

namespace Nex.Node.Tests.ControlApi;

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
}
