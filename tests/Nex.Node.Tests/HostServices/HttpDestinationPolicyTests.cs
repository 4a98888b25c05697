using System.Net;
using System.Text.Json;
using Nex.Node.HostServices;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>The http host service's destination policy: address classes and the allow list (issue 15 item 3).</summary>
public sealed class HttpDestinationPolicyTests
{
    private static HttpDestinationPolicy Policy(string allowJson, params string[] own)
    {
        var parsed = HttpDestinationPolicy.Parse(JsonDocument.Parse($$"""{"allow":{{allowJson}}}""").RootElement.Clone(), out var error);
        Assert.Null(error);
        return new HttpDestinationPolicy(parsed.Allow, () => [.. own.Select(IPAddress.Parse)]);
    }

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.0.9", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::7f00:1", "loopback")]
    [InlineData("2002:7f00:1::", "loopback")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("::ffff:192.168.1.1", "private")]
    [InlineData("fc00::1", "private")]
    [InlineData("fd12:3456::1", "private")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("100.64.0.1", "shared (CGNAT)")]
    [InlineData("100.127.255.254", "shared (CGNAT)")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("255.255.255.255", "reserved")]
    [InlineData("240.0.0.1", "reserved")]
    public void Classify_RefusesInternalAddresses(string address, string kind) =>
        Assert.Equal(kind, HttpDestinationPolicy.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("2002:0808:0808::")]
    public void Classify_LetsPublicAddressesThrough(string address) =>
        Assert.Null(HttpDestinationPolicy.Classify(IPAddress.Parse(address)));

    [Fact]
    public void Check_RefusesTheNodesOwnAddresses_EvenPublicOnes()
    {
        var policy = Policy("[]", "203.0.113.7", "2001:db8::7");
        Assert.Equal("this node's own address", policy.Check("203.0.113.7", 80, IPAddress.Parse("203.0.113.7")));
        Assert.Equal("this node's own address", policy.Check("me.example", 443, IPAddress.Parse("::ffff:203.0.113.7")));
        Assert.Equal("this node's own address", policy.Check("me.example", 443, IPAddress.Parse("2001:db8::7")));
        Assert.Null(policy.Check("other.example", 80, IPAddress.Parse("203.0.113.8")));
        Assert.Equal("loopback address", policy.Check("localhost", 80, IPAddress.Loopback));
    }

    [Fact]
    public void MachineInterfaces_IncludeLoopback()
    {
        // The default source of "own addresses" reads the machine's interfaces (lo at least).
        Assert.Equal("loopback address", HttpDestinationPolicy.Default.Check("127.0.0.1", 80, IPAddress.Loopback));
    }

    [Fact]
    public void InterfaceAddresses_AreReRead_OnlyAfterTheirMaxAge()
    {
        var time = new ManualTime();
        var reads = 0;
        var cache = new HttpDestinationPolicy.InterfaceAddresses(time, () =>
        {
            reads++;
            return [IPAddress.Parse("203.0.113." + reads.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        });
        var policy = new HttpDestinationPolicy([], cache.Get);

        Assert.Equal("this node's own address", policy.Check("a", 80, IPAddress.Parse("203.0.113.1")));
        time.Advance(HttpDestinationPolicy.InterfaceAddresses.MaxAge - TimeSpan.FromMilliseconds(1));
        Assert.Equal("this node's own address", policy.Check("a", 80, IPAddress.Parse("203.0.113.1")));
        Assert.Equal(1, reads);

        // An address the node gained is refused once the cache is re-read.
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("this node's own address", policy.Check("a", 80, IPAddress.Parse("203.0.113.2")));
        Assert.Equal(2, reads);
    }

    [Fact]
    public void Allow_Cidr_OpensItsRange_OnAnyPort()
    {
        var policy = Policy("""["10.0.0.0/8", "fd00::/8"]""");
        Assert.Null(policy.Check("10.2.3.4", 8080, IPAddress.Parse("10.2.3.4")));
        Assert.Null(policy.Check("svc", 80, IPAddress.Parse("::ffff:10.2.3.4")));
        Assert.Null(policy.Check("svc", 80, IPAddress.Parse("fd00::5")));
        Assert.Equal("private address", policy.Check("192.168.0.1", 80, IPAddress.Parse("192.168.0.1")));
        Assert.Equal("loopback address", policy.Check("127.0.0.1", 80, IPAddress.Loopback));
    }

    [Fact]
    public void Allow_AddressWithPort_OpensOnlyThatPort()
    {
        var policy = Policy("""["127.0.0.1:8080", "[::1]:9090"]""");
        Assert.Null(policy.Check("127.0.0.1", 8080, IPAddress.Loopback));
        Assert.Equal("loopback address", policy.Check("127.0.0.1", 8222, IPAddress.Loopback));
        Assert.Null(policy.Check("::1", 9090, IPAddress.IPv6Loopback));
        Assert.Equal("loopback address", policy.Check("::1", 8080, IPAddress.IPv6Loopback));
    }

    [Fact]
    public void Allow_HostName_MatchesTheUrlsHost_WhateverItResolvesTo()
    {
        var policy = Policy("""["LocalHost:8080", "api.internal"]""");
        Assert.Null(policy.Check("localhost", 8080, IPAddress.Loopback));
        Assert.Null(policy.Check("localhost", 8080, IPAddress.IPv6Loopback));
        Assert.Equal("loopback address", policy.Check("localhost", 8081, IPAddress.Loopback));
        Assert.Equal("loopback address", policy.Check("127.0.0.1", 8080, IPAddress.Loopback)); // the name, not the address
        Assert.Null(policy.Check("api.internal.", 443, IPAddress.Parse("10.9.9.9")));
        Assert.Equal("private address", policy.Check("evil.example", 443, IPAddress.Parse("10.9.9.9")));
    }

    [Theory]
    [InlineData("""{"allow":"127.0.0.1"}""", "allow must be an array of strings")]
    [InlineData("""{"allow":["10.0.0.0/33"]}""", "'10.0.0.0/33' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    [InlineData("""{"allow":["10.1.2.3/8"]}""", "'10.1.2.3/8' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    [InlineData("""{"allow":["localhost:0"]}""", "'localhost:0' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    [InlineData("""{"allow":["localhost:http"]}""", "'localhost:http' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    [InlineData("""{"allow":["http://localhost/"]}""", "'http://localhost/' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    [InlineData("""{"allow":["[::1"]}""", "'[::1' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    public void MalformedAllowList_IsOneLineError(string json, string expected)
    {
        HttpDestinationPolicy.Parse(JsonDocument.Parse(json).RootElement.Clone(), out var error);
        Assert.Equal(expected, error);
    }
}

internal sealed class ManualTime : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
