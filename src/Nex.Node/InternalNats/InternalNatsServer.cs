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
/// goes, and when one comes and no spare account is left; each change returns only once the
/// server has confirmed it.
/// </summary>
internal sealed partial class InternalNatsServer : IAsyncDisposable
{
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Accounts added ahead with each reload that adds one (see <see cref="AddWorkloadAsync"/>).</summary>
    internal const int SpareAccounts = 3;

    private readonly SemaphoreSlim _gate = new(1, 1);
    // Keyed by workload id (a spare: by its name); the value's Id is the account's name in the config.
    private readonly Dictionary<string, WorkloadAccount> _accounts = new(StringComparer.Ordinal);
    private readonly Queue<(WorkloadAccount Account, WorkloadCredentials Credentials)> _spares = new();
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

    /// <summary>Configuration reloads so far (changes are made under the gate).</summary>
    internal int Reloads { get; private set; }

    /// <summary>The client port.</summary>
    public int Port => _port;

    /// <summary>Client URL.</summary>
    public string Url => $"nats://{Host}:{_port}";

    public static async Task<InternalNatsServer> StartAsync(ILogger logger, CancellationToken cancellationToken)
    {
        var directory = Machines.RunDirectory.Create("nex-internal-nats-");
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

    /// <summary>Gives workload <paramref name="id"/> an account of its own, with fresh users for its agent and for the node.</summary>
    /// <remarks>
    /// Each reload costs a few milliseconds and holds up the server's traffic, so a reload that adds an
    /// account also adds <see cref="SpareAccounts"/> spare ones, and the next starts take those without
    /// a reload. An account's name is only a label (no permission names it), so a spare keeps the one it
    /// was created with: renaming it would change it, and nats-server 2.9 drops the subscriptions of
    /// an account a reload changes. A spare's seeds never leave the node until an agent gets them.
    /// </remarks>
    public async Task<WorkloadCredentials> AddWorkloadAsync(string id, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_spares.TryDequeue(out var spare))
            {
                _accounts.Remove(spare.Account.Id);
                _accounts[id] = spare.Account;
                return spare.Credentials;
            }

            var (account, credentials) = NewAccount(id);
            _accounts[id] = account;
            var spares = Enumerable.Range(0, SpareAccounts).Select(_ => NewAccount($"spare-{Guid.NewGuid():N}")).ToList();
            foreach (var added in spares)
            {
                _accounts[added.Account.Id] = added.Account;
            }

            try
            {
                await ApplyAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Not confirmed: none of them is handed out, so none is kept for the next reload.
                _accounts.Remove(id);
                foreach (var added in spares)
                {
                    _accounts.Remove(added.Account.Id);
                }

                throw;
            }

            foreach (var added in spares)
            {
                _spares.Enqueue(added);
            }

            return credentials;
        }
        finally
        {
            _gate.Release();
        }
    }

    private static (WorkloadAccount Account, WorkloadCredentials Credentials) NewAccount(string name)
    {
        var agent = NexKeys.CreateUser();
        var node = NexKeys.CreateUser();
        return (new WorkloadAccount(name, agent.GetPublicKey(), node.GetPublicKey()), new WorkloadCredentials(agent.GetSeed(), node.GetSeed()));
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
        Machines.RunDirectory.Delete(_directory);
    }

    private async Task ChangeAsync(Action<Dictionary<string, WorkloadAccount>> change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            change(_accounts);
            await ApplyAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ApplyAsync(CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(_configFile, Render(), cancellationToken).ConfigureAwait(false);
        await _server.ReloadAsync(ReloadTimeout, cancellationToken).ConfigureAwait(false);
        Reloads++;
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
