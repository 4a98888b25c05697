using System.Net;
using System.Net.Sockets;
using Nex.Node.Config;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>A destination the http host service refused; the message is the one line the function sees.</summary>
internal sealed class HttpDestinationRefusedException(string message) : IOException(message);

/// <summary>
/// The node's one HTTP client for the http host service (one connection pool for all workloads).
/// Every connection goes through <see cref="ConnectAsync"/>: it resolves the host itself, checks each
/// address against the <see cref="HttpDestinationPolicy"/> and dials only an address that passed, so
/// no second lookup can swap in another address (DNS rebinding). Redirects are followed by the
/// handler, and each new host or port is a new connection, so every hop is checked the same way.
/// No proxy is used: through one, the check would see the proxy and not the destination.
/// </summary>
internal sealed class HostHttpClient : IDisposable
{
    /// <summary>Longest a host service HTTP call may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2.5);

    private readonly SocketsHttpHandler _handler;

    public HostHttpClient(HttpDestinationPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Policy = policy;
        _handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseProxy = false,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 10,
            ConnectCallback = ConnectAsync,
        };
        Client = new HttpClient(_handler) { Timeout = Timeout };
    }

    /// <summary>The policy every connection is checked against.</summary>
    public HttpDestinationPolicy Policy { get; }

    /// <summary>The client to send with.</summary>
    public HttpClient Client { get; }

    /// <summary>Builds the client from <c>host_services.services.http.config</c>.</summary>
    /// <exception cref="ArgumentException">The allow list is malformed (the config loader refuses such a file first).</exception>
    public static HostHttpClient From(HostServicesConfig? config)
    {
        var settings = config is not null && config.Services.TryGetValue(HostServicesProtocol.Http, out var http) ? http.Config : null;
        var policy = HttpDestinationPolicy.Parse(settings, out var error);
        return error is null ? new HostHttpClient(policy) : throw new ArgumentException($"host_services.services.http.config: {error}");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Client.Dispose();
        _handler.Dispose();
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var port = context.DnsEndPoint.Port;
        var literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        var addresses = IPAddress.TryParse(literal, out var parsed) ? [parsed] : await Dns.GetHostAddressesAsync(host, ct).ConfigureAwait(false);

        string? refusal = null;
        Exception? lastError = null;
        foreach (var address in addresses)
        {
            if (Policy.Check(host, port, address) is { } reason)
            {
                refusal ??= literal == address.ToString()
                    ? $"http: destination {host}:{port} is not allowed for workloads ({reason})"
                    : $"http: destination {host}:{port} ({address}) is not allowed for workloads ({reason})";
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        if (lastError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(lastError);
        }

        // No address at all is a lookup failure (a 500 like any transport error), not a refusal.
        throw refusal is null ? new IOException($"{host} has no address") : new HttpDestinationRefusedException(refusal);
    }
}
