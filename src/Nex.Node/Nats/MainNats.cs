using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Nex.Nats;

namespace Nex.Node.Nats;

/// <summary>
/// The node's connection to the main NATS system, and the embedded server it started, if any.
/// Resolution: 0.2's <c>public_nats_server</c> block starts a server first; an explicit server
/// (flag, environment, context) is used as given; otherwise the default URL is tried and, when
/// nothing answers there, an embedded JetStream server is started on loopback.
/// </summary>
internal sealed partial class MainNats : IAsyncDisposable
{
    private readonly ILogger _logger;
    private long _disconnects;
    private int _up = 1;

    private MainNats(NatsConnection connection, NatsServerProcess? embedded, string url, ILogger logger)
    {
        Connection = connection;
        Embedded = embedded;
        Url = url;
        _logger = logger;

        // A lost connection silently turns every DEPLOY into "no responders": say so, and count it.
        // (A subject over the server's control line, for one, makes nats-server close the connection.)
        connection.ConnectionDisconnected += OnDisconnectedAsync;
        connection.ConnectionOpened += OnReconnectedAsync;
        connection.ReconnectFailed += OnReconnectFailedAsync;
        connection.ServerError += OnServerErrorAsync;
    }

    /// <summary>How often the connection was lost since the node connected.</summary>
    public long Disconnects => Interlocked.Read(ref _disconnects);

    public NatsConnection Connection { get; }

    public NatsServerProcess? Embedded { get; }

    public string Url { get; }

    /// <summary>The TCP endpoints of the servers in <see cref="Url"/>, in its order (what sandbox relays connect to:
    /// the first that answers, so sandboxed services follow the node to a live server of its cluster).</summary>
    public IReadOnlyList<System.Net.EndPoint> Endpoints =>
        [.. Url.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(EndpointOf)];

    private static System.Net.EndPoint EndpointOf(string server)
    {
        var uri = new Uri(server.Contains("://", StringComparison.Ordinal) ? server : "nats://" + server);
        var port = uri.Port > 0 ? uri.Port : 4222;
        return System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip)
            ? new System.Net.IPEndPoint(ip, port)
            : new System.Net.DnsEndPoint(uri.Host, port);
    }

    public static async Task<MainNats> ConnectAsync(NexNodeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var connection = options.Connection;
        NatsServerProcess? embedded = null;
        try
        {
            if (options.Config.PublicNatsServer is { } pub)
            {
                embedded = await StartServerAsync(
                    new NatsServerOptions
                    {
                        Host = pub.Host ?? "127.0.0.1",
                        Port = pub.Port,
                        JetStream = pub.JetStream,
                        ServerName = pub.ServerName,
                        StoreDirectory = pub.StoreDir ?? Path.Combine(options.HomeDirectory, "nats"),
                    },
                    logger,
                    cancellationToken).ConfigureAwait(false);
                LogPublicServer(logger, embedded.ClientUrl);
                if (!connection.HasExplicitServer)
                {
                    connection = connection with { Server = embedded.ClientUrl };
                }
            }
            else if (!connection.HasExplicitServer && options.AllowEmbeddedNats)
            {
                var url = $"nats://127.0.0.1:{options.EmbeddedNatsPort}";
                if (!await NexConnection.IsReachableAsync(url, TimeSpan.FromMilliseconds(750), cancellationToken).ConfigureAwait(false))
                {
                    var store = Path.Combine(options.HomeDirectory, "nats");
                    embedded = await StartServerAsync(
                        new NatsServerOptions { Port = options.EmbeddedNatsPort, JetStream = true, StoreDirectory = store, ServerName = "nex-embedded" },
                        logger,
                        cancellationToken).ConfigureAwait(false);
                    LogEmbedded(logger, url, store);
                }

                connection = connection with { Server = url };
            }

            var nats = await NexConnection.ConnectAsync(connection, cancellationToken).ConfigureAwait(false);
            return new MainNats(nats, embedded, connection.EffectiveServer, logger);
        }
        catch (Exception ex)
        {
            if (embedded is not null)
            {
                await embedded.DisposeAsync().ConfigureAwait(false);
            }

            if (ex is NatsConnectException)
            {
                throw new NodeStartException(ex.Message, ex);
            }

            throw;
        }
    }

    /// <summary>
    /// Checks that JetStream answers, and says exactly what is wrong when it does not (deploys
    /// fetch artifacts from the object store). Null when it works.
    /// </summary>
    public async Task<string?> CheckJetStreamAsync(CancellationToken cancellationToken)
    {
        var js = new NatsJSContext(Connection);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            await js.GetAccountInfoAsync(timeout.Token).ConfigureAwait(false);
            return null;
        }
        catch (NatsNoRespondersException)
        {
            return $"JetStream is not enabled on {Url}: nothing answers $JS.API. Start nats-server with -js (or enable jetstream in its config); deploys need the object store.";
        }
        catch (NatsJSApiException ex)
        {
            return $"JetStream refused this account on {Url}: {ex.Error.Description} (code {ex.Error.Code}). Enable JetStream for the account the node connects as; deploys need the object store.";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"JetStream on {Url} did not answer within 3s; deploys need the object store. Check the server's JetStream status (nats-server -js, or the account's JetStream limits).";
        }
        catch (NatsException ex)
        {
            return $"JetStream check on {Url} failed: {ex.Message}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        Connection.ConnectionDisconnected -= OnDisconnectedAsync;
        Connection.ConnectionOpened -= OnReconnectedAsync;
        Connection.ReconnectFailed -= OnReconnectFailedAsync;
        Connection.ServerError -= OnServerErrorAsync;
        try
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            if (Embedded is not null)
            {
                await Embedded.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<NatsServerProcess> StartServerAsync(NatsServerOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            return await NatsServerProcess.StartAsync(options, logger, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            var lastLine = ex.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.Contains("[FTL]", StringComparison.Ordinal) || l.Contains("[ERR]", StringComparison.Ordinal))
                ?? ex.Message.Split('\n')[0];
            throw new NodeStartException($"no NATS server answers at {options.Host}:{options.Port} and an embedded nats-server could not start: {lastLine.Trim()}", ex);
        }
    }

    // Counted per loss, not per event: a failed reconnect attempt is no new loss, and the first
    // connect's own "opened" event may arrive after we subscribed.
    private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
    {
        if (Interlocked.Exchange(ref _up, 0) == 1)
        {
            LogDisconnected(_logger, Url, Interlocked.Increment(ref _disconnects));
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask OnReconnectedAsync(object? sender, NatsEventArgs args)
    {
        if (Interlocked.Exchange(ref _up, 1) == 0)
        {
            LogReconnected(_logger, Url, Disconnects);
        }

        return ValueTask.CompletedTask;
    }

    private ValueTask OnReconnectFailedAsync(object? sender, NatsEventArgs args)
    {
        LogReconnectFailed(_logger, Url, args.Message);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnServerErrorAsync(object? sender, NatsServerErrorEventArgs args)
    {
        LogServerError(_logger, Url, args.Error);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 112, Level = LogLevel.Error, Message = "Lost the connection to NATS at {Url}; control requests go unanswered until it is back (disconnect {Count} since start; the server's reason, if it gave one, is logged before this)")]
    private static partial void LogDisconnected(ILogger logger, string url, long count);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "Reconnected to NATS at {Url} ({Count} disconnects since start)")]
    private static partial void LogReconnected(ILogger logger, string url, long count);

    [LoggerMessage(EventId = 114, Level = LogLevel.Debug, Message = "Reconnecting to NATS at {Url} failed: {Reason}")]
    private static partial void LogReconnectFailed(ILogger logger, string url, string reason);

    [LoggerMessage(EventId = 115, Level = LogLevel.Error, Message = "NATS server at {Url} reported an error: {Error}")]
    private static partial void LogServerError(ILogger logger, string url, string error);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "No NATS server at {Url}: started an embedded nats-server with JetStream (data in {Store}); it stops with the node")]
    private static partial void LogEmbedded(ILogger logger, string url, string store);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Started the public NATS server from public_nats_server at {Url}")]
    private static partial void LogPublicServer(ILogger logger, string url);
}
