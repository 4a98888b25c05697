using Nex.Node.Nats;
using Xunit;

namespace Nex.Testing;

/// <summary>A real nats-server with JetStream on a free loopback port, for one test class or assembly.</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    private NatsServerProcess? _server;

    /// <summary>The running server.</summary>
    public NatsServerProcess Server => _server ?? throw new InvalidOperationException("not started");

    /// <summary>Its client URL.</summary>
    public string Url => Server.ClientUrl;

    public async ValueTask InitializeAsync() =>
        _server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true });

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
