using System.Net;
using System.Net.Sockets;

namespace Nex.Processes;

/// <summary>
/// A byte relay: accepts connections on one endpoint and pipes each, both ways, to a new connection to
/// another. It carries NATS across a sandbox's network namespace: the node listens on a unix socket that
/// is bound into the sandbox and relays to a TCP port; inside, the agent listens on loopback TCP for its
/// services and relays to that socket. Nothing in the sandbox can reach any other address.
/// </summary>
public sealed class SocketRelay : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly EndPoint[] _targets;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly object _gate = new();
    private readonly HashSet<Socket> _open = [];
    private readonly string? _socketPath;

    // The target the last connection reached: the next one tries it first (the others only when it fails).
    private int _current;

    private SocketRelay(Socket listener, EndPoint[] targets, string? socketPath)
    {
        _listener = listener;
        _targets = targets;
        _socketPath = socketPath;
        LocalEndPoint = listener.LocalEndPoint!;
        _accepting = AcceptLoopAsync();
    }

    /// <summary>Where the relay listens (for TCP, with the port the system chose when 0 was asked).</summary>
    public EndPoint LocalEndPoint { get; }

    /// <summary>Starts listening on <paramref name="listen"/>, relaying to <paramref name="target"/>.</summary>
    /// <param name="listen">A <see cref="IPEndPoint"/> or a <see cref="UnixDomainSocketEndPoint"/>; an existing socket file is replaced.</param>
    /// <param name="target">Where each accepted connection is relayed.</param>
    /// <returns>The running relay; dispose it to close the listener and every relayed connection.</returns>
    public static SocketRelay Start(EndPoint listen, EndPoint target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return Start(listen, [target]);
    }

    /// <summary>
    /// Starts listening on <paramref name="listen"/>, relaying each accepted connection to the first of
    /// <paramref name="targets"/> that accepts it, starting with the one the previous connection reached: the servers
    /// of a NATS cluster, so that a client inside whose server died reconnects through the relay to a live one.
    /// </summary>
    /// <param name="listen">A <see cref="IPEndPoint"/> or a <see cref="UnixDomainSocketEndPoint"/>; an existing socket file is replaced.</param>
    /// <param name="targets">Where accepted connections are relayed, in order of preference (at least one).</param>
    /// <returns>The running relay; dispose it to close the listener and every relayed connection.</returns>
    public static SocketRelay Start(EndPoint listen, IReadOnlyList<EndPoint> targets)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count == 0)
        {
            throw new ArgumentException("a relay needs at least one target", nameof(targets));
        }

        var path = listen is UnixDomainSocketEndPoint unix ? unix.ToString() : null;
        if (path is { Length: > 0 } && File.Exists(path))
        {
            File.Delete(path);
        }

        var listener = NewSocket(listen);
        try
        {
            listener.Bind(listen);
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new SocketRelay(listener, [.. targets], path);
    }

    /// <summary>Parses <c>host:port</c> (IPv4, or <c>[v6]:port</c>) or an absolute unix socket path.</summary>
    /// <param name="text">The endpoint text.</param>
    /// <returns>The endpoint.</returns>
    /// <exception cref="FormatException">The text is neither.</exception>
    public static EndPoint ParseEndPoint(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.StartsWith('/'))
        {
            return new UnixDomainSocketEndPoint(text);
        }

        if (IPEndPoint.TryParse(text, out var ip) && ip.Port > 0)
        {
            return ip;
        }

        throw new FormatException($"'{text}' is neither host:port nor an absolute socket path");
    }

    private static Socket NewSocket(EndPoint endPoint) => endPoint switch
    {
        UnixDomainSocketEndPoint => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
        DnsEndPoint => new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }, // dual mode: either family
        _ => new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true },
    };

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (accepted.AddressFamily != AddressFamily.Unix)
            {
                accepted.NoDelay = true;
            }

            _ = RelayAsync(accepted);
        }
    }

    private async Task RelayAsync(Socket accepted)
    {
        if (!Track(accepted))
        {
            accepted.Dispose();
            return;
        }

        Socket? outbound = null;
        try
        {
            outbound = await ConnectAsync().ConfigureAwait(false);
            if (outbound is null)
            {
                return; // no target answered: closing the accepted end tells the client at once
            }

            // Each direction ends the other: a NATS peer that goes away must be seen as gone at once.
            var first = await Task.WhenAny(PumpAsync(accepted, outbound), PumpAsync(outbound, accepted)).ConfigureAwait(false);
            await first.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
        {
            // The peer or the target went away: closing both ends tells the other side.
        }
        finally
        {
            Close(accepted);
            if (outbound is not null)
            {
                Close(outbound);
            }
        }
    }

    /// <summary>A connection to the first target that takes one, the last one that did first; null when none does.</summary>
    private async Task<Socket?> ConnectAsync()
    {
        var start = Volatile.Read(ref _current);
        for (var i = 0; i < _targets.Length; i++)
        {
            var index = (start + i) % _targets.Length;
            var target = _targets[index];
            var outbound = NewSocket(target);
            if (!Track(outbound))
            {
                outbound.Dispose();
                return null;
            }

            try
            {
                await outbound.ConnectAsync(target, _stop.Token).ConfigureAwait(false);
                Volatile.Write(ref _current, index);
                return outbound;
            }
            catch (SocketException)
            {
                Close(outbound); // refused or unreachable: the next target
            }
        }

        return null;
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private bool Track(Socket socket)
    {
        lock (_gate)
        {
            return !_stop.IsCancellationRequested && _open.Add(socket);
        }
    }

    private void Close(Socket socket)
    {
        lock (_gate)
        {
            _open.Remove(socket);
        }

        socket.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Socket[] open;
        lock (_gate)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            _stop.Cancel();
            open = [.. _open];
        }

        _listener.Dispose();
        foreach (var socket in open)
        {
            socket.Dispose();
        }

        await _accepting.ConfigureAwait(false);
        if (_socketPath is { Length: > 0 } path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
        }

        _stop.Dispose();
    }
}
