using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Node;
using Nex.Node.Config;

namespace Nex.Testing;

/// <summary>
/// A real node in this process, on a given NATS server, with its own temp directory (PID file,
/// NEX home), plus a connected <see cref="NexClient"/>. Disposing stops both and removes the files.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly ILoggerFactory _loggers;

    private TestNode(NexNode node, NatsConnection connection, NexClient client, TempDirectory dir, ILoggerFactory loggers)
    {
        Node = node;
        Connection = connection;
        Client = client;
        _dir = dir;
        _loggers = loggers;
    }

    public NexNode Node { get; }

    public NatsConnection Connection { get; }

    public NexClient Client { get; }

    public string NodeId => Node.NodeId;

    public string Directory => _dir.Path;

    public static async Task<TestNode> StartAsync(string natsUrl, Func<NodeConfig, NodeConfig>? configure = null, Func<NexNodeOptions, NexNodeOptions>? options = null, TimeSpan? clientTimeout = null)
    {
        var dir = new TempDirectory("nex-node-");
        var config = new NodeConfig { NoSandbox = true, WorkloadTypes = ["native"], PidFilePath = dir.File("nex.pid"), Tags = new Dictionary<string, string> { ["node_name"] = "test-" + Guid.NewGuid().ToString("N")[..6] },
            // Tests share one NATS server, full of the records of other tests' nodes: a node takes none of them
            // unless its test turns rescheduling on (the Fleet tests, each on its own cluster).
            Fleet = new FleetConfig { Reschedule = false } };
        config = NodeConfigLoader.Validate(configure?.Invoke(config) ?? config);
        var nodeOptions = new NexNodeOptions
        {
            Config = config,
            Connection = new NexConnectionOptions { Server = natsUrl, ConnectionName = "nex-node-test" },
            AllowEmbeddedNats = false,
            HomeDirectory = dir.Path,
        };
        nodeOptions = options?.Invoke(nodeOptions) ?? nodeOptions;
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(new TestOutputLoggerProvider()));
        NexNode? node = null;
        try
        {
            node = await NexNode.StartAsync(nodeOptions, loggers);
            var connection = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = natsUrl });
            var client = new NexClient(connection, new NexClientOptions { Timeout = clientTimeout ?? TimeSpan.FromMilliseconds(750) });
            return new TestNode(node, connection, client, dir, loggers);
        }
        catch
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }

            loggers.Dispose();
            dir.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Node.DisposeAsync();
        _loggers.Dispose();
        _dir.Dispose();
    }
}
