using System.Net;
using System.Net.Sockets;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// The unix sockets through which a sandbox reaches NATS: <c>nats.sock</c> relays to the node's internal
/// server (the agent's link) and <c>workload-nats.sock</c> to the node's own NATS server (services), each
/// created in the machine's directory and open to the sandbox's unprivileged user.
/// </summary>
internal static class NatsRelays
{
    /// <summary>The agent's socket.</summary>
    public const string AgentSocket = "nats.sock";

    /// <summary>The services' socket.</summary>
    public const string WorkloadSocket = "workload-nats.sock";

    /// <summary>Starts the relays of one machine in <paramref name="dir"/>.</summary>
    /// <param name="dir">The machine's directory.</param>
    /// <param name="spec">The machine (its internal NATS endpoint).</param>
    /// <param name="workloadNats">The node's NATS servers for services (each connection goes to the first that answers), or null.</param>
    /// <returns>The relays, to dispose when the machine is gone.</returns>
    public static async Task<SocketRelay[]> StartAsync(string dir, MachineSpec spec, IReadOnlyList<EndPoint>? workloadNats)
    {
        var relays = new List<SocketRelay>();
        try
        {
            var host = spec.NatsHost is "0.0.0.0" or "localhost" ? "127.0.0.1" : spec.NatsHost;
            relays.Add(Start(Path.Combine(dir, AgentSocket), new IPEndPoint(IPAddress.Parse(host), spec.NatsPort)));
            if (workloadNats is not null)
            {
                relays.Add(Start(Path.Combine(dir, WorkloadSocket), workloadNats));
            }

            return [.. relays];
        }
        catch
        {
            await StopAsync(relays).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops relays (their sockets are removed).</summary>
    public static async Task StopAsync(IEnumerable<SocketRelay> relays)
    {
        foreach (var relay in relays)
        {
            await relay.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The <c>NATS_URL</c> a service sees inside: the node's URL (credentials kept) at the relay's inside address.</summary>
    /// <param name="mainUrl">The node's NATS URL.</param>
    /// <param name="host">The relay's host inside the sandbox.</param>
    /// <param name="port">The relay's port inside the sandbox.</param>
    public static string InsideUrl(string mainUrl, string host, int port)
    {
        ArgumentNullException.ThrowIfNull(mainUrl);
        var first = mainUrl.Split(',')[0].Trim();
        var uri = new UriBuilder(first.Contains("://", StringComparison.Ordinal) ? first : "nats://" + first) { Host = host, Port = port };
        return uri.Uri.ToString().TrimEnd('/');
    }

    private static SocketRelay Start(string socketPath, params IReadOnlyList<EndPoint> targets)
    {
        var relay = SocketRelay.Start(new UnixDomainSocketEndPoint(socketPath), targets);
        // The sandbox's user must be able to connect (connect(2) needs write permission on the file).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        }

        return relay;
    }
}
