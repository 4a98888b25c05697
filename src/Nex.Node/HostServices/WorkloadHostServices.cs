using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.Config;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>
/// Host services for one deployed function (spec §6): its NATS connection(s), chosen as in §6.5, and
/// the enabled services. Buckets are named from the node's <see cref="HostServiceCaller"/>, never from
/// the RPC subject (spec §11 #16). Failures carry their real message (spec §11 #7).
/// </summary>
internal sealed partial class WorkloadHostServices : IAsyncDisposable
{
    /// <summary>Name of a connection made for host services.</summary>
    public const string ConnectionName = "nex-hostservices";

    /// <summary>Name of the connection made for <c>trigger_connection</c>.</summary>
    public const string TriggerConnectionName = "workload-trigger-subscription";

    private readonly Dictionary<string, IHostService> _services;
    private readonly List<NatsConnection> _owned;
    private readonly ILogger _logger;
    private int _disposed;

    private WorkloadHostServices(
        HostServiceCaller caller,
        INatsConnection connection,
        INatsConnection? triggerConnection,
        Dictionary<string, IHostService> services,
        List<NatsConnection> owned,
        ILogger logger)
    {
        Caller = caller;
        Connection = connection;
        TriggerConnection = triggerConnection;
        _services = services;
        _owned = owned;
        _logger = logger;
    }

    /// <summary>The workload these services act for.</summary>
    public HostServiceCaller Caller { get; }

    /// <summary>The default host-services connection (KV and object store always use it).</summary>
    public INatsConnection Connection { get; }

    /// <summary>The <c>trigger_connection</c> connection, when the deploy request gave one; messaging
    /// uses it, and so should the trigger subscriptions.</summary>
    public INatsConnection? TriggerConnection { get; }

    /// <summary>True when <see cref="Connection"/> is the node's main connection rather than one made here.</summary>
    public bool ReusesMainConnection => _owned.Count == 0 || !ReferenceEquals(_owned[0], Connection);

    /// <summary>Names of the enabled services.</summary>
    public IReadOnlyCollection<string> EnabledServices => _services.Keys;

    /// <summary>Connects as spec §6.5 says and builds the enabled services.</summary>
    /// <param name="config">Node config's <c>host_services</c>; null means "reuse the main connection" (all services, defaults).</param>
    /// <param name="caller">The node's record of the workload.</param>
    /// <param name="requestHostServices">Deploy request's <c>host_services</c>.</param>
    /// <param name="triggerConnection">Deploy request's <c>trigger_connection</c>.</param>
    /// <param name="mainConnection">The node's main NATS connection (never disposed here).</param>
    /// <param name="http">The node's HTTP client for the http service (its destination policy built in).</param>
    /// <param name="loggers">Logger factory.</param>
    /// <param name="ct">Cancellation.</param>
    /// <exception cref="NatsConnectException">A connection this needs could not be made, or a service on it could not be set up.</exception>
    public static async Task<WorkloadHostServices> CreateAsync(
        HostServicesConfig? config,
        HostServiceCaller caller,
        NatsJwtConnectionInfo? requestHostServices,
        NatsJwtConnectionInfo? triggerConnection,
        INatsConnection mainConnection,
        HostHttpClient http,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(mainConnection);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(loggers);
        var logger = loggers.CreateLogger<WorkloadHostServices>();
        var owned = new List<NatsConnection>();
        try
        {
            INatsConnection connection = mainConnection;
            if (requestHostServices is not null)
            {
                var url = Or(requestHostServices.NatsUrl, mainConnection.Opts.Url);
                connection = await ConnectAsync(mainConnection, url, ConnectionName, Credentials(requestHostServices.NatsUserJwt, requestHostServices.NatsUserSeed, mainConnection), owned, ct).ConfigureAwait(false);
                LogConnected(logger, caller.WorkloadId, ConnectionName, url, "deploy request");
            }
            else if (config is not null)
            {
                var hasCredentials = !string.IsNullOrEmpty(config.NatsUserJwt) || !string.IsNullOrEmpty(config.NatsUserSeed);
                var url = Or(config.NatsUrl, mainConnection.Opts.Url);
                if (hasCredentials || !SameUrl(url, mainConnection.Opts.Url))
                {
                    // Empty JWT/seed: the node's own credentials, not anonymous (spec §11 #15).
                    connection = await ConnectAsync(mainConnection, url, ConnectionName, Credentials(config.NatsUserJwt, config.NatsUserSeed, mainConnection), owned, ct).ConfigureAwait(false);
                    LogConnected(logger, caller.WorkloadId, ConnectionName, url, "node config");
                }
            }

            INatsConnection? trigger = null;
            if (triggerConnection is not null)
            {
                var url = Or(triggerConnection.NatsUrl, mainConnection.Opts.Url);
                trigger = await ConnectAsync(mainConnection, url, TriggerConnectionName, Credentials(triggerConnection.NatsUserJwt, triggerConnection.NatsUserSeed, mainConnection), owned, ct).ConfigureAwait(false);
                LogConnected(logger, caller.WorkloadId, TriggerConnectionName, url, "trigger_connection");
            }

            Dictionary<string, IHostService> services;
            try
            {
                services = BuildServices(config ?? HostServicesConfig.Default, caller, connection, trigger ?? connection, http);
            }
            catch (ArgumentException ex)
            {
                // A service config the loader would have refused (a config built in code skips it); it fails the
                // deploy with the same "host services: ..." line as a connection that cannot be made.
                throw new NatsConnectException(ex.Message, ex);
            }


            return new WorkloadHostServices(caller, connection, trigger, services, owned, logger);
        }
        catch
        {
            foreach (var c in owned)
            {
                await c.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Runs one RPC (spec §6.1): the service and method come from the subject's last two tokens;
    /// the namespace and name tokens are ignored in favour of <see cref="Caller"/>.</summary>
    public async Task<HostServiceResponse> HandleAsync(string service, string method, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(headers);
        if (!_services.TryGetValue(service, out var handler))
        {
            LogNoSuchService(_logger, Caller.WorkloadId, service);
            return HostServiceResponse.NoSuchService(service);
        }

        HostServiceResponse response;
        try
        {
            response = await handler.HandleAsync(method, headers, body, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            response = HostServiceResponse.Exception(ex);
        }

        if (!response.IsSuccess)
        {
            LogFailed(_logger, Caller.WorkloadId, service, method, response.Code, response.Message);
        }

        return response;
    }

    /// <summary>Drains and closes the connections made here; the main connection is left alone.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var connection in _owned)
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsException or IOException or TimeoutException or ObjectDisposedException)
            {
                LogCloseFailed(_logger, Caller.WorkloadId, ex.Message);
            }
        }
    }

    private static Dictionary<string, IHostService> BuildServices(HostServicesConfig config, HostServiceCaller caller, INatsConnection connection, INatsConnection messaging, HostHttpClient http)
    {
        var services = new Dictionary<string, IHostService>(StringComparer.Ordinal);
        foreach (var (name, settings) in config.Services)
        {
            if (settings is not { Enabled: true })
            {
                continue;
            }

            IHostService? service = name switch
            {
                HostServicesProtocol.Kv => new KeyValueService(connection, BucketSettings.From(settings.Config, "kv", caller)),
                HostServicesProtocol.ObjectStore => new ObjectStoreService(connection, BucketSettings.From(settings.Config, "obj", caller)),
                HostServicesProtocol.Messaging => MessagingService.From(messaging, settings.Config),
                HostServicesProtocol.Http => new HttpService(http),
                _ => null,
            };
            if (service is not null)
            {
                services[name] = service;
            }
        }

        return services;
    }

    private static NatsAuthOpts Credentials(string jwt, string seed, INatsConnection main) =>
        string.IsNullOrEmpty(jwt) && string.IsNullOrEmpty(seed)
            ? main.Opts.AuthOpts
            : NatsAuthOpts.Default with { Jwt = NullIfEmpty(jwt), Seed = NullIfEmpty(seed) };

    private static async Task<NatsConnection> ConnectAsync(INatsConnection main, string url, string name, NatsAuthOpts auth, List<NatsConnection> owned, CancellationToken ct)
    {
        // Same server as the main connection: keep its TLS and timeouts; elsewhere: defaults.
        var baseOpts = SameUrl(url, main.Opts.Url) ? main.Opts : NatsOpts.Default;
        var opts = baseOpts with
        {
            Url = url,
            Name = name,
            AuthOpts = auth,
            SubPendingChannelFullMode = System.Threading.Channels.BoundedChannelFullMode.Wait,
            SubPendingChannelCapacity = Math.Max(baseOpts.SubPendingChannelCapacity, 4096),
            DrainSubscriptionsOnDispose = true,
        };
        var connection = new NatsConnection(opts);
        owned.Add(connection);
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            throw new NatsConnectException($"host services cannot connect to NATS at {url} ({name}): {Innermost(ex).Message}", ex);
        }

        return connection;
    }

    private static string Or(string value, string fallback) => string.IsNullOrWhiteSpace(value) ? fallback : value;

    private static string? NullIfEmpty(string value) => string.IsNullOrEmpty(value) ? null : value;

    private static bool SameUrl(string a, string b) =>
        string.Equals(a.Trim().TrimEnd('/'), b.Trim().TrimEnd('/'), StringComparison.OrdinalIgnoreCase);

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Workload {WorkloadId}: host services connection {Name} to {Url} ({Source})")]
    private static partial void LogConnected(ILogger logger, string workloadId, string name, string url, string source);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "Workload {WorkloadId} called unavailable host service {Service}")]
    private static partial void LogNoSuchService(ILogger logger, string workloadId, string service);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Workload {WorkloadId}: host service {Service}.{Method} failed with {Code}: {Reason}")]
    private static partial void LogFailed(ILogger logger, string workloadId, string service, string method, int code, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Workload {WorkloadId}: closing a host services connection failed: {Reason}")]
    private static partial void LogCloseFailed(ILogger logger, string workloadId, string reason);
}
