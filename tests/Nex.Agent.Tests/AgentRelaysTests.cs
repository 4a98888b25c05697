using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Nex.Agent.Tests;

public sealed class AgentRelaysTests
{
    private static AgentSettings Settings => new() { WorkloadId = "w1", NatsHost = "127.0.0.1", NatsPort = 4223, Message = "" };

    [Fact]
    public void TheRelayToTheAgentsOwnAddress_BecomesItsSocket_TheWorkloadsRelayStays()
    {
        var pairs = Program.ParseRelays("127.0.0.1:4223=/run/nex/agent.sock,127.0.0.1:4222=/run/nex/workload.sock");

        var (socket, others) = Program.SplitAgentSocket(Settings, pairs);

        Assert.Equal("/run/nex/agent.sock", socket);
        var (listen, target) = Assert.Single(others);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 4222), listen);
        Assert.Equal("/run/nex/workload.sock", Assert.IsType<UnixDomainSocketEndPoint>(target).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:4222=/run/nex/workload.sock")]
    [InlineData("127.0.0.2:4223=/run/nex/agent.sock")]
    public void WithoutARelayToTheAgentsOwnAddress_ItConnectsOverTcp(string relays)
    {
        var pairs = Program.ParseRelays(relays);

        var (socket, others) = Program.SplitAgentSocket(Settings, pairs);

        Assert.Null(socket);
        Assert.Equal(pairs.Count(), others.Count);
    }
}
