using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.NKeys;
using Nex.Node.Nats;
using Nex.Security;

namespace Nex.Node.InternalNats;

/// <summary>Seeds for a workload's two users: the agent's, and the node's own in the same account.</summary>
internal sealed record WorkloadCredentials(string AgentSeed, string NodeSeed);

/// <summary>
/// The node's private nats-server (spec §5.2): loopback, a free port, no JetStream, one
/// account per workload. The configuration is rewritten and hot-reloaded whenever a workload
/// comes or goes; each change returns only once the server has confirmed it.
/// </summary>
internal sealed partial class InternalNatsServer : IAsyncDisposable
{
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, WorkloadAccount> _accounts = new(StringComparer.Ordinal);
    private readonly KeyPair _hostUser;
    private readonly string _directory;
    private readonly string _configFile;
    private readonly ILogger _logger;
    private NatsServerProcess _server = null!;
    private int _port;

    private InternalNatsServer(KeyPair hostUser, string directory, ILogger logger)
    {
        _hostUser = hostUser;
        _directory = directory;
        _configFile = Path.Combine(directory, "internal-nats.conf");
        _logger = logger;
    }

    /// <summary>Host agents connect to (loopback).</summary>
    public static string Host => "127.0.0.1";

    /// <summary>The client port.</summary>
    public int Port => _port;

    /// <summary>Client URL.</summary>
    public string Url => $"nats://{Host}:{_port}";

    public static async Task<InternalNatsServer> StartAsync(ILogger logger, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("nex-internal-nats-").FullName;
        var server = new InternalNatsServer(NexKeys.CreateUser(), directory, logger);
        try
        {
            await server.StartServerAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Adds a workload account with fresh users for its agent and for the node.</summary>
    public async Task<WorkloadCredentials> AddWorkloadAsync(string id, CancellationToken cancellationToken)
    {
        var agent = NexKeys.CreateUser();
        var node = NexKeys.CreateUser();
        await ChangeAsync(a => a[id] = new WorkloadAccount(id, agent.GetPublicKey(), node.GetPublicKey()), cancellationToken).ConfigureAwait(false);
        return new WorkloadCredentials(agent.GetSeed(), node.GetSeed());
    }

    /// <summary>Removes a workload's account: its agent, if still connected, is cut off.</summary>
    public Task RemoveWorkloadAsync(string id, CancellationToken cancellationToken) =>
        ChangeAsync(a => a.Remove(id), cancellationToken);

    /// <summary>A connection inside a workload's account, as the user with <paramref name="userSeed"/>.</summary>
    public Task<NatsConnection> ConnectAsWorkloadAsync(string userSeed, string id, CancellationToken cancellationToken) =>
        ConnectAsync(KeyPair.FromSeed(userSeed), $"nex-node-{id}", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        _gate.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private async Task ChangeAsync(Action<Dictionary<string, WorkloadAccount>> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            change(_accounts);
            await File.WriteAllTextAsync(_configFile, Render(), cancellationToken).ConfigureAwait(false);
            await _server.ReloadAsync(ReloadTimeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private string Render() => InternalNatsConfig.Render(Host, _port, _hostUser.GetPublicKey(), _accounts.Values);

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        // The port is written into the config (a reload must not change it), so pick a free one and
        // retry on the rare race where someone takes it first.
        for (var attempt = 1; ; attempt++)
        {
            _port = FreeLoopbackPort();
            await File.WriteAllTextAsync(_configFile, Render(), cancellationToken).ConfigureAwait(false);
            try
            {
                _server = await NatsServerProcess.StartAsync(
                    new NatsServerOptions { ConfigFile = _configFile, Host = null, Port = null, JetStream = false },
                    _logger,
                    cancellationToken).ConfigureAwait(false);
                LogStarted(_logger, Url);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // Port taken between probe and bind: try another.
            }
        }
    }

    private async Task<NatsConnection> ConnectAsync(KeyPair user, string name, CancellationToken cancellationToken)
    {
        var connection = new NatsConnection(NatsOpts.Default with
        {
            Url = Url,
            Name = name,
            AuthOpts = NatsAuthOpts.Default with { NKey = user.GetPublicKey(), Seed = user.GetSeed() },
            SubPendingChannelFullMode = System.Threading.Channels.BoundedChannelFullMode.Wait,
            SubPendingChannelCapacity = 4096,
            MaxReconnectRetry = -1,
            // One connection per agent: keep each small (NATS.Net defaults to large buffers).
            ReaderBufferSize = 32 * 1024,
            WriterBufferSize = 32 * 1024,
        });
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "Internal NATS server listening on {Url}")]
    private static partial void LogStarted(ILogger logger, string url);
}
