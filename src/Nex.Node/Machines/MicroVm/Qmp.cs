using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Nex.Node.Machines.MicroVm;

/// <summary>
/// The few QEMU Machine Protocol commands the microVM driver needs: save a running VM's state to a file and
/// quit. QMP is line-delimited JSON over a unix socket; replies and asynchronous events interleave.
/// </summary>
internal static class Qmp
{
    /// <summary>Migrates the VM behind <paramref name="socket"/> into <paramref name="stateFile"/>, then quits it.</summary>
    /// <param name="socket">The VM's QMP socket.</param>
    /// <param name="stateFile">Where the state goes (written by QEMU itself, as its user).</param>
    /// <param name="time">The clock of the pauses between progress queries.</param>
    /// <param name="cancellationToken">Gives up.</param>
    /// <exception cref="IOException">QEMU refused or the migration failed.</exception>
    public static async Task SaveAsync(string socket, string stateFile, TimeProvider time, CancellationToken cancellationToken)
    {
        await using var session = await Session.OpenAsync(socket, cancellationToken).ConfigureAwait(false);
        var migrate = new JsonObject
        {
            ["execute"] = "migrate",
            ["arguments"] = new JsonObject { ["uri"] = $"exec:cat > {stateFile}" },
        };
        await session.CommandAsync(migrate.ToJsonString(), cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var status = await session.CommandAsync("""{"execute":"query-migrate"}""", cancellationToken).ConfigureAwait(false);
            switch (status?["status"]?.GetValue<string>())
            {
                case "completed":
                    try
                    {
                        await session.CommandAsync("""{"execute":"quit"}""", cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException)
                    {
                        // QEMU may close the socket before its reply reaches us: the state is saved either way.
                    }

                    return;
                case "failed" or "cancelled":
                    throw new IOException($"saving the VM failed: {status?["error-desc"]?.GetValue<string>() ?? "no reason given"}");
                default:
                    await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>The VM's run state (<c>running</c>, <c>inmigrate</c>, <c>paused</c>, …).</summary>
    /// <param name="socket">The VM's QMP socket.</param>
    /// <param name="cancellationToken">Gives up.</param>
    /// <returns>The status QEMU reports.</returns>
    /// <exception cref="IOException">QEMU refused or closed the socket.</exception>
    public static async Task<string> StatusAsync(string socket, CancellationToken cancellationToken)
    {
        await using var session = await Session.OpenAsync(socket, cancellationToken).ConfigureAwait(false);
        var status = await session.CommandAsync("""{"execute":"query-status"}""", cancellationToken).ConfigureAwait(false);
        return status?["status"]?.GetValue<string>() ?? "unknown";
    }

    /// <summary>One connection, past the greeting and the capabilities negotiation.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly Socket _client;
        private readonly StreamReader _reader;
        private readonly StreamWriter _writer;

        private Session(Socket client)
        {
            _client = client;
            var stream = new NetworkStream(client, ownsSocket: false);
            _reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
            _writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: false) { AutoFlush = true, NewLine = "\n" };
        }

        public static async Task<Session> OpenAsync(string socket, CancellationToken cancellationToken)
        {
            var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            Session? session = null;
            try
            {
                await client.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken).ConfigureAwait(false);
                session = new Session(client);
                await session._reader.ReadLineAsync(cancellationToken).ConfigureAwait(false); // the greeting
                await session.CommandAsync("""{"execute":"qmp_capabilities"}""", cancellationToken).ConfigureAwait(false);
                return session;
            }
            catch
            {
                if (session is not null)
                {
                    await session.DisposeAsync().ConfigureAwait(false);
                }
                else
                {
                    client.Dispose();
                }

                throw;
            }
        }

        public async Task<JsonNode?> CommandAsync(string command, CancellationToken cancellationToken)
        {
            await _writer.WriteLineAsync(command.AsMemory(), cancellationToken).ConfigureAwait(false);
            while (await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                var reply = JsonNode.Parse(line);
                if (reply?["error"] is { } error)
                {
                    throw new IOException($"QEMU refused {command}: {error["desc"]?.GetValue<string>()}");
                }

                if (reply?["return"] is { } result)
                {
                    return result;
                }

                // An event (e.g. MIGRATION status changes): not the reply.
            }

            throw new IOException("QEMU closed its control socket");
        }

        // The writer goes first and closes the stream (as the usings this replaced did); it has nothing
        // buffered (AutoFlush), so a socket QEMU already closed after "quit" cannot make it throw.
        public async ValueTask DisposeAsync()
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _reader.Dispose();
            _client.Dispose();
        }
    }
}
