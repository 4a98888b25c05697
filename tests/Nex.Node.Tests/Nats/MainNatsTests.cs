using Nex.Node.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Nats;

/// <summary>The node's main connection: a loss is logged and counted (INFO <c>nats_disconnects</c>), never silent.</summary>
public sealed class MainNatsTests
{
    [Fact]
    public async Task ALostConnection_IsCounted_AndTheNodeComesBack()
    {
        var ct = TestContext.Current.CancellationToken;
        using var store = new TempDirectory("nex-nats-");
        var server = await NatsServerProcess.StartAsync(new NatsServerOptions { StoreDirectory = store.Path }, cancellationToken: ct);
        try
        {
            var port = server.Port;
            await using var node = await TestNode.StartAsync(server.ClientUrl, clientTimeout: TimeSpan.FromSeconds(2));
            Assert.Equal(0, (await node.Client.InfoAsync(node.NodeId, ct)).NatsDisconnects);

            // The server goes away under the node and comes back on the same port.
            await server.DisposeAsync();
            server = await NatsServerProcess.StartAsync(new NatsServerOptions { Port = port, StoreDirectory = store.Path }, cancellationToken: ct);

            var deadline = DateTime.UtcNow.AddSeconds(30);
            long disconnects = 0;
            while (disconnects == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the node did not come back and report the loss within 30 s");
                try
                {
                    disconnects = (await node.Client.InfoAsync(node.NodeId, ct)).NatsDisconnects;
                }
                catch (Nex.Client.NexClientException)
                {
                    // The node's connection, or the test's, is still reconnecting.
                    await Task.Delay(200, ct);
                }
            }

            Assert.Equal(1, disconnects);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
