using System.Net;
using System.Net.Sockets;
using NATS.Client.Core;
using Nex.Processes;
using Nex.Testing;
using Xunit;

namespace Nex.Nats.Tests;

public sealed class UnixSocketConnectionFactoryTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // The way a container's agent connects: a unix socket relayed to the server's TCP port, while the URL names a
    // port nothing listens on (so a connection that ignored the factory would fail).
    [Fact]
    public async Task ConnectsThroughTheSocket_NotTheUrl_AndReconnectsThroughItAfterTheLinkDrops()
    {
        using var dir = new TempDirectory();
        var path = dir.File("nats.sock");
        var server = new Uri(nats.Url);
        var relay = SocketRelay.Start(new UnixDomainSocketEndPoint(path), new IPEndPoint(IPAddress.Loopback, server.Port));
        try
        {
            await using var connection = new NatsConnection(NatsOpts.Default with
            {
                Url = "nats://127.0.0.1:1",
                SocketConnectionFactory = new UnixSocketConnectionFactory(path),
                ReconnectWaitMin = TimeSpan.FromMilliseconds(50),
                ReconnectWaitMax = TimeSpan.FromMilliseconds(200),
            });
            await using var responder = new NatsConnection(new NatsOpts { Url = nats.Url });
            await using var sub = await responder.SubscribeCoreAsync<string>("unix.echo", cancellationToken: Ct);
            _ = Task.Run(async () =>
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(Ct))
                {
                    await msg.ReplyAsync("re: " + msg.Data, cancellationToken: Ct);
                }
            }, Ct);
            await responder.PingAsync(Ct);

            var reply = await connection.RequestAsync<string, string>("unix.echo", "one", cancellationToken: Ct);
            Assert.Equal("re: one", reply.Data);

            // The relay goes away and comes back: the client reconnects through the same socket.
            await relay.DisposeAsync();
            relay = SocketRelay.Start(new UnixDomainSocketEndPoint(path), new IPEndPoint(IPAddress.Loopback, server.Port));
            var again = await NatsClusterWaits.EventuallyAsync(
                async () => (await connection.RequestAsync<string, string>("unix.echo", "two", replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(1) }, cancellationToken: Ct)).Data,
                "a reply after the reconnect",
                cancellationToken: Ct);
            Assert.Equal("re: two", again);
        }
        finally
        {
            await relay.DisposeAsync();
        }
    }
}
