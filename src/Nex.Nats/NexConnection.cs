using System.Threading.Channels;
using NATS.Client.Core;

namespace Nex.Nats;

/// <summary>Turns <see cref="NexConnectionOptions"/> into a live NATS connection.</summary>
public static class NexConnection
{
    /// <summary>The NATS.Net options for these settings.</summary>
    public static NatsOpts BuildOpts(NexConnectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var auth = NatsAuthOpts.Default;
        if (!string.IsNullOrEmpty(options.CredsFile))
        {
            auth = auth with { CredsFile = options.CredsFile };
        }
        else if (!string.IsNullOrEmpty(options.NkeyFile))
        {
            auth = auth with { NKeyFile = options.NkeyFile };
        }
        else if (!string.IsNullOrEmpty(options.User) && string.IsNullOrEmpty(options.Password))
        {
            // 0.2 (and the NATS tools) treat a user without a password as a token.
            auth = auth with { Token = options.User };
        }
        else if (!string.IsNullOrEmpty(options.User))
        {
            auth = auth with { Username = options.User, Password = options.Password };
        }

        if (!string.IsNullOrEmpty(options.Token))
        {
            auth = auth with { Token = options.Token };
        }

        var tls = NatsTlsOpts.Default;
        var wantsTls = !string.IsNullOrEmpty(options.TlsCert) || !string.IsNullOrEmpty(options.TlsCa) || options.TlsFirst;
        if (wantsTls)
        {
            tls = tls with
            {
                CertFile = options.TlsCert,
                KeyFile = options.TlsKey,
                CaFile = options.TlsCa,
                Mode = options.TlsFirst ? TlsMode.Implicit : TlsMode.Require,
            };
        }

        return NatsOpts.Default with
        {
            Url = options.EffectiveServer,
            Name = options.ConnectionName,
            AuthOpts = auth,
            TlsOpts = tls,
            RequestTimeout = options.Timeout,
            ConnectTimeout = options.Timeout < TimeSpan.FromSeconds(2) ? TimeSpan.FromSeconds(2) : options.Timeout,
            // Never drop a control or trigger message silently (NATS.Net's default is DropNewest).
            SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
            SubPendingChannelCapacity = 4096,
        };
    }

    /// <summary>Connects, or throws one readable line saying where and why not.</summary>
    /// <exception cref="NatsConnectException">The server URL is malformed, or the server cannot be reached or refuses us.</exception>
    public static async Task<NatsConnection> ConnectAsync(NexConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (InvalidServerUrl(options.EffectiveServer) is { } problem)
        {
            throw new NatsConnectException(problem);
        }

        var opts = BuildOpts(options);
        var connection = new NatsConnection(opts);
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new NatsConnectException($"cannot connect to NATS at {opts.Url}: {Innermost(ex).Message}", ex);
        }
    }

    /// <summary>True when a NATS server answers at <paramref name="url"/> within <paramref name="timeout"/>.</summary>
    public static async Task<bool> IsReachableAsync(string url, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = url, ConnectTimeout = timeout, Name = "nex-probe" });
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException or System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Why a server list (comma separated, as <c>-s</c> and <c>NATS_URL</c> take it) cannot be used, or null when it
    /// can: each entry is <c>nats://</c>, <c>tls://</c>, <c>ws://</c> or <c>wss://</c> with a host, or a bare
    /// <c>host:port</c>. NATS.Net would otherwise fail later with .NET's own URI text.
    /// </summary>
    /// <param name="servers">The server list.</param>
    /// <returns>One line naming the bad entry and the expected form, or null.</returns>
    public static string? InvalidServerUrl(string servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        foreach (var raw in servers.Split(',', StringSplitOptions.TrimEntries))
        {
            var entry = raw.Contains("://", StringComparison.Ordinal) ? raw : "nats://" + raw;
            var scheme = entry[..entry.IndexOf("://", StringComparison.Ordinal)];
            var valid = raw.Length > 0
                && !raw.Any(char.IsWhiteSpace)
                && scheme.ToLowerInvariant() is "nats" or "tls" or "ws" or "wss"
                && Uri.TryCreate(entry, UriKind.Absolute, out var uri)
                && uri.Host.Length > 0;
            if (!valid)
            {
                return $"invalid server URL '{raw}': expected nats://HOST:PORT (also tls://, ws://, wss://), e.g. nats://127.0.0.1:4222";
            }
        }

        return null;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
