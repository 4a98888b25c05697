using System.Net.Sockets;
using NATS.Client.Core;

namespace Nex.Nats;

/// <summary>
/// Connects NATS.Net to a server through a unix socket instead of the URL's TCP address: the socket a
/// sandbox gets from the node, which relays it to the node's internal NATS server. Every connect and
/// reconnect goes to the same socket; the URL still names the server to NATS.Net (and in logs).
/// </summary>
/// <param name="path">The socket file.</param>
public sealed class UnixSocketConnectionFactory(string path) : INatsSocketConnectionFactory
{
    /// <summary>The socket file.</summary>
    public string Path { get; } = path;

    /// <inheritdoc />
    public async ValueTask<INatsSocketConnection> ConnectAsync(Uri uri, NatsOpts opts, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path), cancellationToken).ConfigureAwait(false);
            return new Connection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private sealed class Connection(Socket socket) : INatsSocketConnection
    {
        public ValueTask<int> SendAsync(ReadOnlyMemory<byte> buffer) => socket.SendAsync(buffer, SocketFlags.None);

        public ValueTask<int> ReceiveAsync(Memory<byte> buffer) => socket.ReceiveAsync(buffer, SocketFlags.None);

        public ValueTask DisposeAsync()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already closed by the other side.
            }

            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
