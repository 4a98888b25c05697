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
    /// <param name="cancellationToken">Gives up.</param>
    /// <exception cref="IOException">QEMU refused or the migration failed.</exception>
    public static async Task SaveAsync(string socket, string stateFile, CancellationToken cancellationToken)
    {
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken).ConfigureAwait(false);
        await using var stream = new NetworkStream(client, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false); // the greeting

        await CommandAsync(reader, writer, """{"execute":"qmp_capabilities"}""", cancellationToken).ConfigureAwait(false);
        var migrate = new JsonObject
        {
            ["execute"] = "migrate",
            ["arguments"] = new JsonObject { ["uri"] = $"exec:cat > {stateFile}" },
        };
        await CommandAsync(reader, writer, migrate.ToJsonString(), cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var status = await CommandAsync(reader, writer, """{"execute":"query-migrate"}""", cancellationToken).ConfigureAwait(false);
            switch (status?["status"]?.GetValue<string>())
            {
                case "completed":
                    try
                    {
                        await CommandAsync(reader, writer, """{"execute":"quit"}""", cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException)
                    {
                        // QEMU may close the socket before its reply reaches us: the state is saved either way.
                    }

                    return;
                case "failed" or "cancelled":
                    throw new IOException($"saving the VM failed: {status?["error-desc"]?.GetValue<string>() ?? "no reason given"}");
                default:
                    await Task.Delay(50, cancellationToken).ConfigureAwait(false);
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
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken).ConfigureAwait(false);
        await using var stream = new NetworkStream(client, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false); // the greeting
        await CommandAsync(reader, writer, """{"execute":"qmp_capabilities"}""", cancellationToken).ConfigureAwait(false);
        var status = await CommandAsync(reader, writer, """{"execute":"query-status"}""", cancellationToken).ConfigureAwait(false);
        return status?["status"]?.GetValue<string>() ?? "unknown";
    }

    private static async Task<JsonNode?> CommandAsync(StreamReader reader, StreamWriter writer, string command, CancellationToken cancellationToken)
    {
        await writer.WriteLineAsync(command.AsMemory(), cancellationToken).ConfigureAwait(false);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
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
}
