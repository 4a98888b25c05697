using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Nex.Processes.Tests;

/// <summary>The relay that carries NATS into a sandbox: TCP → unix socket → TCP, bytes exact, ends propagate.</summary>
public sealed class SocketRelayTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TwoRelaysChained_CarryBytesBothWays_AndAClosedEndClosesTheOther()
    {
        // An echo server that upper-cases, standing in for nats-server.
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen();
        var serving = Task.Run(async () =>
        {
            using var peer = await server.AcceptAsync(Ct);
            var buffer = new byte[1024];
            try
            {
                int read;
                while ((read = await peer.ReceiveAsync(buffer, SocketFlags.None, Ct)) > 0)
                {
                    await peer.SendAsync(Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(buffer, 0, read).ToUpperInvariant()), SocketFlags.None, Ct);
                }
            }
            catch (SocketException)
            {
                // A reset ends the connection as well as an orderly close: either way the peer is gone.
            }
        }, Ct);

        var socketPath = Path.Combine(Path.GetTempPath(), $"nex-relay-{Guid.NewGuid():N}.sock");
        await using var outer = SocketRelay.Start(new UnixDomainSocketEndPoint(socketPath), server.LocalEndPoint!);
        await using var inner = SocketRelay.Start(new IPEndPoint(IPAddress.Loopback, 0), new UnixDomainSocketEndPoint(socketPath));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(inner.LocalEndPoint, Ct);
        await client.SendAsync("hello relay"u8.ToArray(), SocketFlags.None, Ct);
        var reply = new byte[64];
        var got = 0;
        while (got < 11)
        {
            got += await client.ReceiveAsync(reply.AsMemory(got), SocketFlags.None, Ct);
        }

        Assert.Equal("HELLO RELAY", Encoding.ASCII.GetString(reply, 0, got));

        // The client leaves: the server sees its connection end.
        client.Shutdown(SocketShutdown.Both);
        client.Close();
        await serving.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task ARelayToSeveralTargets_ConnectsToTheFirstThatAnswers_AndFollowsItWhenTheOtherComesBack()
    {
        // Two "servers": the first is down (its port bound to nothing), the second answers with its name.
        var down = FreePort();
        using var second = Listener(0);
        var socketPath = Path.Combine(Path.GetTempPath(), $"nex-relay-{Guid.NewGuid():N}.sock");
        await using var relay = SocketRelay.Start(new UnixDomainSocketEndPoint(socketPath), [new IPEndPoint(IPAddress.Loopback, down), second.LocalEndPoint!]);

        Assert.Equal("second", await ConnectAndReadAsync(socketPath, second, "second"));

        // The first comes back: the relay keeps to the one that worked until it fails.
        using var first = Listener(down);
        Assert.Equal("second", await ConnectAndReadAsync(socketPath, second, "second"));
        second.Close();
        Assert.Equal("first", await ConnectAndReadAsync(socketPath, first, "first"));
    }

    private static int FreePort()
    {
        using var probe = Listener(0);
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static Socket Listener(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        socket.Listen();
        return socket;
    }

    private static async Task<string> ConnectAndReadAsync(string socketPath, Socket server, string name)
    {
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), Ct);
        using var peer = await server.AcceptAsync(Ct);
        await peer.SendAsync(Encoding.ASCII.GetBytes(name), SocketFlags.None, Ct);
        var buffer = new byte[16];
        var read = await client.ReceiveAsync(buffer, SocketFlags.None, Ct);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    [Fact]
    public async Task DisposingARelay_RemovesItsSocketFile()
    {
        var socketPath = Path.Combine(Path.GetTempPath(), $"nex-relay-{Guid.NewGuid():N}.sock");
        var relay = SocketRelay.Start(new UnixDomainSocketEndPoint(socketPath), new IPEndPoint(IPAddress.Loopback, 9));
        Assert.True(File.Exists(socketPath));
        await relay.DisposeAsync();
        Assert.False(File.Exists(socketPath));
    }

    [Theory]
    [InlineData("127.0.0.1:4222", "127.0.0.1:4222")]
    [InlineData("/run/nex/nats.sock", "/run/nex/nats.sock")]
    public void ParseEndPoint_AcceptsHostPortAndSocketPaths(string text, string expected) =>
        Assert.Equal(expected, SocketRelay.ParseEndPoint(text).ToString());

    [Theory]
    [InlineData("localhost")]
    [InlineData("relative/path.sock")]
    [InlineData("127.0.0.1:0")]
    public void ParseEndPoint_RefusesAnythingElse(string text) =>
        Assert.Throws<FormatException>(() => SocketRelay.ParseEndPoint(text));
}
