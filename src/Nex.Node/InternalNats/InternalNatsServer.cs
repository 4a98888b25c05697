using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
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
/// server has confirmed it. The server is supervised: when it dies it is started again on the
/// same port from the same configuration (every account and user), so agents and the node's own
/// connections reconnect by themselves; <see cref="RestartPolicy"/> decides when, and when the node
/// is unhealthy. Every change of <see cref="Health"/> is also written to <see cref="HealthChanges"/>.
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
    private readonly TimeProvider _time;
    private readonly RestartPolicy _policy;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<InternalNatsHealth> _healthChanges = Channel.CreateUnbounded<InternalNatsHealth>(new UnboundedChannelOptions { SingleReader = true });
    private volatile NatsServerProcess _server = null!;
    private volatile InternalNatsHealth _health;
    private volatile TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _supervisor = Task.CompletedTask;
    private int _port;

    private InternalNatsServer(KeyPair hostUser, string directory, ILogger logger, TimeProvider time, RestartPolicyOptions policy)
    {
        _hostUser = hostUser;
        _directory = directory;
        _configFile = Path.Combine(directory, "internal-nats.conf");
        _logger = logger;
        _time = time;
        _policy = new RestartPolicy(policy, time);
        _health = new InternalNatsHealth(InternalNatsState.Restarting, "internal NATS server starting", time.GetUtcNow());
    }

    /// <summary>Host agents connect to (loopback).</summary>
    public static string Host => "127.0.0.1";

    /// <summary>Configuration reloads so far (changes are made under the gate).</summary>
    internal int Reloads { get; private set; }

    /// <summary>Restarts after a death so far.</summary>
    internal int Restarts { get; private set; }

    /// <summary>The server process's id (tests kill it).</summary>
    internal int ProcessId => _server.ProcessId;

    /// <summary>Where the server stands now.</summary>
    public InternalNatsHealth Health => _health;

    /// <summary>Every change of <see cref="Health"/>, in order (one reader: the node, which reports them).</summary>
    public ChannelReader<InternalNatsHealth> HealthChanges => _healthChanges.Reader;

    /// <summary>The client port.</summary>
    public int Port => _port;

    /// <summary>Client URL.</summary>
    public string Url => $"nats://{Host}:{_port}";

    /// <summary>Starts the server and its supervisor.</summary>
    /// <param name="logger">Diagnostics.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="time">Clock for the restart backoff (the system's by default).</param>
    /// <param name="policy">Restart policy (<see cref="RestartPolicyOptions.Default"/> by default).</param>
    public static async Task<InternalNatsServer> StartAsync(ILogger logger, CancellationToken cancellationToken, TimeProvider? time = null, RestartPolicyOptions? policy = null)
    {
        var directory = Machines.RunDirectory.Create("nex-internal-nats-");
        var server = new InternalNatsServer(NexKeys.CreateUser(), directory, logger, time ?? TimeProvider.System, policy ?? RestartPolicyOptions.Default);
        try
        {
            await server.StartServerAsync(cancellationToken).ConfigureAwait(false);
            server._health = new InternalNatsHealth(InternalNatsState.Up, null, server._time.GetUtcNow()); // not news: no change written
            server._up.TrySetResult();
            server._supervisor = Task.Run(server.SuperviseAsync, CancellationToken.None);
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
        // A new agent could not connect while the server is down: wait for the restart instead of failing.
        await _up.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
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
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _supervisor.ConfigureAwait(false);
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        _healthChanges.Writer.TryComplete();
        _stopping.Dispose();
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
        var server = _server;
        try
        {
            await server.ReloadAsync(ReloadTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException) when (server.HasExited)
        {
            // Dead server: the restart (under the same gate) reads the file just written.
            return;
        }

        Reloads++;
    }

    // One loop for the server's whole life: wait for a death, restart on the same port, report health.
    private async Task SuperviseAsync()
    {
        var stopping = _stopping.Token;
        while (true)
        {
            var server = _server;
            try
            {
                await server.Exited.WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var decision = _policy.OnDeath();
            LogDied(_logger, Url);
            SetHealth(decision.Unhealthy
                ? new InternalNatsHealth(InternalNatsState.Failed, $"the internal NATS server keeps dying ({_policy.RecentDeaths} times within a minute); restarting it with backoff", _time.GetUtcNow())
                : new InternalNatsHealth(InternalNatsState.Restarting, "the internal NATS server exited; restarting it", _time.GetUtcNow()));
            while (true)
            {
                try
                {
                    await Task.Delay(decision.Delay, _time, stopping).ConfigureAwait(false);
                    await _gate.WaitAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                string? failure = null;
                try
                {
                    await server.DisposeAsync().ConfigureAwait(false);
                    await File.WriteAllTextAsync(_configFile, Render(), stopping).ConfigureAwait(false);
                    _server = await StartProcessAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException)
                {
                    failure = LastLine(ex.Message);
                }
                finally
                {
                    _gate.Release();
                }

                if (failure is null)
                {
                    _policy.OnStarted();
                    Restarts++;
                    LogRestarted(_logger, Url, _server.ProcessId);
                    SetHealth(new InternalNatsHealth(InternalNatsState.Up, null, _time.GetUtcNow()));
                    _up.TrySetResult();
                    break;
                }

                decision = _policy.OnStartFailed();
                LogRestartFailed(_logger, Url, failure, decision.Delay.TotalMilliseconds);
                SetHealth(new InternalNatsHealth(InternalNatsState.Failed, $"the internal NATS server could not be restarted on port {_port}: {failure}", _time.GetUtcNow()));
            }
        }
    }

    // A change is reported once: the same state for the same reason is not news.
    private void SetHealth(InternalNatsHealth health)
    {
        var previous = _health;
        _health = health;
        if (previous.State != health.State || previous.Reason != health.Reason)
        {
            _healthChanges.Writer.TryWrite(health);
        }
    }

    // nats-server's start-up errors end with its log; its last line says why (e.g. "address already in use"),
    // after a "[pid] date time [FTL] " prefix that tells a reader nothing.
    private static string LastLine(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var last = lines.Length == 0 ? message : lines[^1];
        return LogPrefix().Replace(last, "");
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\[\d+\] \S+ \S+ \[[A-Z]+\] ")]
    private static partial System.Text.RegularExpressions.Regex LogPrefix();

    private Task<NatsServerProcess> StartProcessAsync(CancellationToken cancellationToken) =>
        NatsServerProcess.StartAsync(
            // One Go thread: the server carries only this node's traffic with its agents, and with one per core Go
            // wakes (and spins) more threads per message than that traffic needs; on a small machine those take
            // the CPU the calls' other hops wait for (bench: WASM p50 ~35 µs lower, 13% more calls per second).
            new NatsServerOptions { ConfigFile = _configFile, Host = null, Port = null, JetStream = false, GoMaxProcs = 1 },
            _logger,
            cancellationToken);

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
                _server = await StartProcessAsync(cancellationToken).ConfigureAwait(false);
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

            // The server is on loopback and comes back within a second when it dies (see SuperviseAsync):
            // retry often, not at NATS.Net's 2 s default.
            ReconnectWaitMin = TimeSpan.FromMilliseconds(100),
            ReconnectWaitMax = TimeSpan.FromSeconds(1),
            ReconnectJitter = TimeSpan.FromMilliseconds(100),

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

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Internal NATS server on {Url} died; restarting it")]
    private static partial void LogDied(ILogger logger, string url);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Internal NATS server restarted on {Url} (pid {Pid})")]
    private static partial void LogRestarted(ILogger logger, string url, int pid);

    [LoggerMessage(EventId = 403, Level = LogLevel.Error, Message = "Internal NATS server could not be restarted on {Url}: {Reason}; next attempt in {DelayMs:0} ms")]
    private static partial void LogRestartFailed(ILogger logger, string url, string reason, double delayMs);
}
