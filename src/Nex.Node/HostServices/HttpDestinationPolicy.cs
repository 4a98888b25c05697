using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;

namespace Nex.Node.HostServices;

/// <summary>
/// Where the http host service may connect. Public addresses are open; loopback, private, link-local,
/// shared (CGNAT), unspecified, multicast and reserved addresses, their IPv4-in-IPv6 forms, and the
/// node's own interface addresses are refused unless <see cref="Allow"/> opens them, so a function
/// cannot read the node's NATS monitor, its internal NATS port, a cloud metadata service or the LAN.
/// The check is made on the address actually dialled (see <see cref="HostHttpClient"/>).
/// </summary>
internal sealed class HttpDestinationPolicy
{
    /// <summary>Config key of the allow list in <c>host_services.services.http.config</c>.</summary>
    public const string AllowKey = "allow";

    private static readonly (IPNetwork Network, string Kind)[] Blocked =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("100.64.0.0/10"), "shared (CGNAT)"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.0.0.0/24"), "reserved"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("198.18.0.0/15"), "reserved"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved"),
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("fc00::/7"), "private"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("fec0::/10"), "private"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");
    private static readonly IPNetwork V4Compatible = IPNetwork.Parse("::/96");

    private readonly Func<IReadOnlyCollection<IPAddress>> _ownAddresses;

    /// <param name="allow">Destinations opened despite the rules above.</param>
    /// <param name="ownAddresses">The node's interface addresses; the machine's by default (read at most
    /// every few seconds: one read costs about 1.6 ms, too much for every new connection).</param>
    public HttpDestinationPolicy(IReadOnlyList<HttpAllowEntry> allow, Func<IReadOnlyCollection<IPAddress>>? ownAddresses = null)
    {
        Allow = allow;
        _ownAddresses = ownAddresses ?? new InterfaceAddresses(TimeProvider.System).Get;
    }

    /// <summary>Nothing opened.</summary>
    public static HttpDestinationPolicy Default { get; } = new([]);

    /// <summary>The allow list.</summary>
    public IReadOnlyList<HttpAllowEntry> Allow { get; }

    /// <summary>Reads <c>allow</c> from the service's config; an error is one line.</summary>
    public static HttpDestinationPolicy Parse(JsonElement? config, out string? error)
    {
        var entries = ServiceSettings.StringList(config, AllowKey, out error);
        if (error is not null)
        {
            return Default;
        }

        var allow = new List<HttpAllowEntry>();
        foreach (var text in entries)
        {
            if (!HttpAllowEntry.TryParse(text, out var entry))
            {
                error = $"'{text}' in {AllowKey} is neither a CIDR (10.0.0.0/8), an address nor a host[:port]";
                return Default;
            }

            allow.Add(entry);
        }

        return new HttpDestinationPolicy(allow);
    }

    /// <summary>What kind of address this is when the default policy refuses it, else null.</summary>
    public static string? Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = Unwrap(address);
        foreach (var (network, kind) in Blocked)
        {
            if (network.BaseAddress.AddressFamily == address.AddressFamily && network.Contains(address))
            {
                return kind;
            }
        }

        return null;
    }

    /// <summary>
    /// Why a connection to <paramref name="address"/> (reached as <paramref name="host"/>:<paramref name="port"/>)
    /// is refused, or null when it may be made.
    /// </summary>
    public string? Check(string host, int port, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(address);
        if (Allow.Any(entry => entry.Matches(host, port, address)))
        {
            return null;
        }

        if (Classify(address) is { } kind)
        {
            return kind + " address";
        }

        var plain = Unwrap(address);
        return _ownAddresses().Any(own => Unwrap(own).Equals(plain)) ? "this node's own address" : null;
    }

    /// <summary>The IPv4 address inside IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
    /// (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::) addresses, since those reach it; else the address.</summary>
    internal static IPAddress Unwrap(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        if (Nat64.Contains(address) || (V4Compatible.Contains(address) && !IPAddress.IPv6Any.Equals(address) && !IPAddress.IPv6Loopback.Equals(address)))
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }

        return SixToFour.Contains(address) ? new IPAddress(bytes.AsSpan(2, 4)) : address;
    }

    /// <summary>The machine's interface addresses, re-read when older than <see cref="MaxAge"/>.</summary>
    internal sealed class InterfaceAddresses(TimeProvider time, Func<IReadOnlyCollection<IPAddress>>? read = null)
    {
        public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

        private readonly Lock _gate = new();
        private IReadOnlyCollection<IPAddress> _addresses = [];
        private DateTimeOffset _readAt = DateTimeOffset.MinValue;

        public IReadOnlyCollection<IPAddress> Get()
        {
            lock (_gate)
            {
                var now = time.GetUtcNow();
                if (now - _readAt >= MaxAge)
                {
                    _addresses = (read ?? Read)();
                    _readAt = now;
                }

                return _addresses;
            }
        }

        private static IReadOnlyCollection<IPAddress> Read()
        {
            try
            {
                return [.. NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address)];
            }
            catch (NetworkInformationException)
            {
                return [];
            }
        }
    }
}

/// <summary>One allow-list entry: a network (CIDR or single address, optionally with a port) or a
/// host name (optionally with a port) matched against the URL's host, whatever it resolves to.</summary>
/// <param name="Network">The network, for address entries.</param>
/// <param name="HostName">The host name, for name entries (lower case, no trailing dot).</param>
/// <param name="Port">The only port opened, or null for any.</param>
internal sealed record HttpAllowEntry(IPNetwork? Network, string? HostName, int? Port)
{
    /// <summary>Parses <c>10.0.0.0/8</c>, <c>fd00::/8</c>, <c>127.0.0.1</c>, <c>127.0.0.1:8080</c>, <c>[::1]:8080</c>,
    /// <c>localhost</c>, <c>api.internal:8443</c>.</summary>
    public static bool TryParse(string text, out HttpAllowEntry entry)
    {
        entry = null!;
        text = text.Trim();
        if (text.Contains('/', StringComparison.Ordinal))
        {
            // Host bits set (10.1.2.3/8) are a typo more often than a wish for 10.0.0.0/8: refuse them.
            if (!IPNetwork.TryParse(text, out var network)
                || !IPAddress.TryParse(text[..text.IndexOf('/', StringComparison.Ordinal)], out var written)
                || !written.Equals(network.BaseAddress))
            {
                return false;
            }

            entry = new HttpAllowEntry(network, null, null);
            return true;
        }

        string host;
        string? portText = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':'))
                {
                    return false;
                }

                portText = rest[1..];
            }
        }
        else if (text.Count(c => c == ':') > 1)
        {
            host = text; // a bare IPv6 address
        }
        else
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? text : text[..colon];
            portText = colon < 0 ? null : text[(colon + 1)..];
        }

        int? port = null;
        if (portText is not null)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                return false;
            }

            port = p;
        }

        if (IPAddress.TryParse(host, out var address) && !host.Contains('%', StringComparison.Ordinal))
        {
            address = HttpDestinationPolicy.Unwrap(address);
            entry = new HttpAllowEntry(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128), null, port);
            return true;
        }

        if (Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            return false;
        }

        entry = new HttpAllowEntry(null, host.TrimEnd('.').ToLowerInvariant(), port);
        return true;
    }

    /// <summary>Whether this entry opens <paramref name="address"/> reached as <paramref name="host"/>:<paramref name="port"/>.</summary>
    public bool Matches(string host, int port, IPAddress address)
    {
        if (Port is { } only && only != port)
        {
            return false;
        }

        if (HostName is not null)
        {
            return string.Equals(host.TrimEnd('.'), HostName, StringComparison.OrdinalIgnoreCase);
        }

        var plain = HttpDestinationPolicy.Unwrap(address);
        var network = Network!.Value;
        return network.BaseAddress.AddressFamily == plain.AddressFamily && network.Contains(plain);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        (HostName ?? Network!.Value.ToString()) + (Port is { } p ? ":" + p.ToString(CultureInfo.InvariantCulture) : "");
}
