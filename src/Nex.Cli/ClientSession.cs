using System.CommandLine;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;

namespace Nex.Cli;

/// <summary>A connected <see cref="NexClient"/> for one command, with its output settings.</summary>
internal sealed class ClientSession : IAsyncDisposable
{
    private ClientSession(NatsConnection connection, NexClient client, Output output)
    {
        Connection = connection;
        Client = client;
        Output = output;
    }

    public NatsConnection Connection { get; }

    public NexClient Client { get; }

    public Output Output { get; }

    public static async Task<ClientSession> OpenAsync(ParseResult parse, CancellationToken cancellationToken, TimeSpan? defaultTimeout = null)
    {
        var ns = GlobalOptions.GetNamespace(parse); // a bad -n is refused before anything connects
        var options = GlobalOptions.GetConnection(parse);
        if (defaultTimeout is { } fallback && string.IsNullOrEmpty(parse.GetValue(GlobalOptions.Timeout)))
        {
            options = options with { Timeout = fallback };
        }

        NatsConnection connection;
        try
        {
            connection = await NexConnection.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsConnectException ex) when (!options.HasExplicitServer)
        {
            throw new CliException($"{ex.Message} (is a node running? start one with './nex node up', or name a server with -s)");
        }

        var client = new NexClient(connection, new NexClientOptions { Namespace = ns, Timeout = options.Timeout });
        return new ClientSession(connection, client, new Output(parse.GetValue(GlobalOptions.Json)));
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
