using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Nex.Node.Nats;
using Nex.Processes;
using Xunit;

namespace Nex.Testing;

/// <summary>
/// A real 3-server nats-server cluster on loopback: each server has its own client and route port (free ones,
/// fixed for the fixture's life so a stopped server comes back where clients expect it), JetStream with its own
/// store directory, and routes to the other two. Started, it has a JetStream meta leader and takes R3 streams.
/// Use it as a class fixture for tests that leave the servers alone; a test that stops or kills servers starts
/// its own with <see cref="StartAsync"/>.
/// </summary>
public sealed class NatsClusterFixture : IAsyncLifetime
{
    /// <summary>How many servers the cluster has.</summary>
    public const int Size = 3;

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private readonly NatsServerProcess?[] _servers = new NatsServerProcess?[Size];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TempDirectory? _dir;
    private NatsServerOptions[] _options = [];

    /// <summary>The cluster's name (unique per fixture, so clusters of parallel tests never join each other).</summary>
    public string Name { get; } = "nex-test-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>How long <see cref="InitializeAsync"/> took, up to a working R3 stream.</summary>
    public TimeSpan StartTime { get; private set; }

    /// <summary>All three client URLs, comma separated, as a client's or node's <c>--server</c> takes them.</summary>
    public string Urls => string.Join(',', Enumerable.Range(0, Size).Select(Url));

    /// <summary>The client URL of server <paramref name="index"/> (whether it runs or not).</summary>
    public string Url(int index) => $"nats://127.0.0.1:{Options(index).Port}";

    /// <summary>The server name of server <paramref name="index"/>.</summary>
    public string ServerName(int index) => Options(index).ServerName!;

    /// <summary>The directory holding the servers' JetStream stores; removed on disposal.</summary>
    public string Directory => _dir?.Path ?? throw new InvalidOperationException("the cluster is not started");

    /// <summary>Server <paramref name="index"/>'s process, or null while it is stopped.</summary>
    public NatsServerProcess? Server(int index) => _servers[CheckIndex(index)];

    /// <summary>True when the servers do not tell clients about each other (<c>--no_advertise</c>): a client given one
    /// server stays on it, so stopping that server cuts the client off (a partition).</summary>
    public bool NoAdvertise { get; private init; }

    /// <summary>Starts a cluster and waits until it takes R3 streams; the caller disposes it.</summary>
    public static Task<NatsClusterFixture> StartAsync(CancellationToken cancellationToken = default) => StartAsync(noAdvertise: false, cancellationToken);

    /// <summary>Starts a cluster and waits until it takes R3 streams; the caller disposes it.</summary>
    /// <param name="noAdvertise">See <see cref="NoAdvertise"/>.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<NatsClusterFixture> StartAsync(bool noAdvertise, CancellationToken cancellationToken = default)
    {
        var cluster = new NatsClusterFixture { NoAdvertise = noAdvertise };
        try
        {
            await cluster.StartAllAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask InitializeAsync() => new(StartAllAsync(TestContext.Current.CancellationToken));

    /// <summary>Stops server <paramref name="index"/> gracefully (SIGTERM); its ports and store stay for <see cref="StartServerAsync"/>.</summary>
    public async Task StopServerAsync(int index)
    {
        if (Interlocked.Exchange(ref _servers[CheckIndex(index)], null) is { } server)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Kills server <paramref name="index"/> (SIGKILL, no goodbye to clients or peers) and waits until it is gone.</summary>
    public async Task KillServerAsync(int index)
    {
        if (Interlocked.Exchange(ref _servers[CheckIndex(index)], null) is { } server)
        {
            Posix.Signal(server.ProcessId, Posix.SIGKILL);
            await server.Exited.WaitAsync(TimeSpan.FromSeconds(10));
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// Starts server <paramref name="index"/> again on its ports and store, and waits until JetStream answers through it
    /// (it has rejoined the cluster and knows the meta leader).
    /// </summary>
    public async Task StartServerAsync(int index, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_servers[CheckIndex(index)] is not null)
            {
                throw new InvalidOperationException($"server {index} is running");
            }

            _servers[index] = await NatsServerProcess.StartAsync(_options[index], cancellationToken: cancellationToken);
        }
        finally
        {
            _gate.Release();
        }

        await WaitForJetStreamAsync(Url(index), replicas: 1, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="start"/> while only server <paramref name="index"/> runs, then starts the others again
    /// (together: both wait for the same JetStream meta leader election). Whatever connects in
    /// <paramref name="start"/>, even given every URL, is on that server: a test then knows which one to kill.
    /// </summary>
    public async Task<T> WhileOnlyServerRunsAsync<T>(int index, Func<Task<T>> start, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        var others = Enumerable.Range(0, Size).Where(i => i != CheckIndex(index)).ToArray();
        await Task.WhenAll(others.Select(StopServerAsync));
        var result = await start();
        await Task.WhenAll(others.Select(i => StartServerAsync(i, cancellationToken)));
        return result;
    }

    /// <summary>Waits until JetStream answers through <paramref name="url"/> and takes a stream of <paramref name="replicas"/>.</summary>
    public async Task WaitForJetStreamAsync(string url, int replicas, CancellationToken cancellationToken = default)
    {
        using var expiry = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        expiry.CancelAfter(ReadyTimeout);
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = url, Name = "nex-cluster-probe", RequestTimeout = TimeSpan.FromSeconds(2) });
        var js = new NatsJSContext(connection);
        var probe = "nex_probe_" + Guid.NewGuid().ToString("N")[..8];
        string? last = null;
        while (true)
        {
            // A taken route port fails a server just after it said it was ready for clients.
            if (_servers.FirstOrDefault(s => s is { HasExited: true }) is { } dead)
            {
                throw new InvalidOperationException($"a server of the NATS cluster {Name} exited:\n{dead.RecentLog()}");
            }

            try
            {
                // Account info needs a meta leader; a created stream needs its peers to be placed too.
                await js.GetAccountInfoAsync(expiry.Token);
                await js.CreateStreamAsync(new StreamConfig(probe, [probe]) { NumReplicas = replicas, Storage = StreamConfigStorage.Memory }, expiry.Token);
                await js.DeleteStreamAsync(probe, expiry.Token);
                return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException($"the NATS cluster {Name} did not take an R{replicas} stream through {url} within {ReadyTimeout.TotalSeconds:0}s (last: {last})");
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException or NatsJSApiException)
            {
                // No meta leader yet ("JetStream system temporarily unavailable"), or peers not yet known.
                last = ex.Message;
                await Task.Delay(50, expiry.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Enumerable.Range(0, Size).Select(StopServerAsync));
        _dir?.Dispose();
        _gate.Dispose();
    }

    private async Task StartAllAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        _dir = new TempDirectory("nex-cluster-");
        for (var attempt = 1; ; attempt++)
        {
            _options = PlanServers(attempt);

            // Started together: each is "ready" for clients before its routes are up, and the routes retry each other.
            var starts = _options.Select(o => NatsServerProcess.StartAsync(o, cancellationToken: cancellationToken)).ToArray();
            try
            {
                (await Task.WhenAll(starts)).CopyTo(_servers, 0);
                await WaitForJetStreamAsync(Urls, replicas: Size, cancellationToken);
                break;
            }
            catch (InvalidOperationException ex) when (attempt < 3 && ex.Message.Contains("address already in use", StringComparison.Ordinal))
            {
                // Another test took a port between our probe and the server's bind: again, on new ports.
                foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
                {
                    await start.Result.DisposeAsync();
                }

                Array.Clear(_servers);
            }
        }

        StartTime = clock.Elapsed;
    }

    private NatsServerOptions[] PlanServers(int attempt)
    {
        var clientPorts = FreePorts(Size);
        var routePorts = FreePorts(Size);
        var routes = routePorts.Select(p => $"nats://127.0.0.1:{p}").ToArray();
        return Enumerable.Range(0, Size).Select(i => new NatsServerOptions
        {
            Port = clientPorts[i],
            ServerName = $"{Name}-s{i}",
            ClusterName = Name,
            ClusterPort = routePorts[i],
            Routes = routes,
            JetStream = true,
            StoreDirectory = Path.Combine(_dir!.Path, $"try{attempt}", $"s{i}"),
            NoAdvertise = NoAdvertise,
        }).ToArray();
    }

    private NatsServerOptions Options(int index) =>
        _options.Length == Size ? _options[CheckIndex(index)] : throw new InvalidOperationException("the cluster is not started");

    private static int CheckIndex(int index) =>
        index is >= 0 and < Size ? index : throw new ArgumentOutOfRangeException(nameof(index), index, $"a server index is 0 to {Size - 1}");

    // Bound together so the ports differ; released just before the servers take them.
    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ =>
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        }).ToArray();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }
}
