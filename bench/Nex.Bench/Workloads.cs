using NATS.Client.Core;
using NATS.NKeys;
using Nex.Client;
using Nex.Protocol;

namespace Nex.Bench;

/// <summary>A deployed workload, as the bench needs it to call and stop it.</summary>
internal sealed record DeployedWorkload(string NodeId, string Id, string Name);

/// <summary>Uploads the example artifacts once and deploys and stops them on a node, as <c>nex devrun</c> does.</summary>
internal sealed class Workloads : IDisposable
{
    private readonly NexClient _client;
    private readonly KeyPair _issuer;
    private readonly KeyPair _xkey;
    private readonly Dictionary<string, ArtifactUpload> _uploads = [];

    public Workloads(NexClient client, string keyHome)
    {
        _client = client;
        _issuer = DevKeys.LoadOrCreateIssuer(keyHome);
        _xkey = DevKeys.LoadOrCreateXkey(keyHome);
    }

    /// <summary>Uploads <paramref name="path"/> to the NEXCLIFILES bucket (once).</summary>
    public async Task UploadAsync(string path, CancellationToken cancellationToken)
    {
        if (!_uploads.ContainsKey(path))
        {
            var store = new ArtifactStore(_client.Connection);
            _uploads[path] = await store.UploadFileAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<DeployedWorkload> DeployAsync(BenchNode node, string path, string name, IReadOnlyList<string>? argv, IReadOnlyList<string>? triggers, CancellationToken cancellationToken, bool reuseContext = false) =>
        await SendAsync(node, WorkloadRequests.BuildDeploy(Spec(path, name, argv, triggers, essential: false) with { ReuseContext = reuseContext }, node.NodeId, node.Xkey, _issuer, _xkey), cancellationToken).ConfigureAwait(false);

    /// <summary>A signed deploy request with a sealed environment, as <c>nex devrun</c> builds it (the
    /// client's work: not part of what the node is timed on).</summary>
    public DeployRequest BuildDeploy(BenchNode node, string path, string name, IReadOnlyList<string>? argv, IReadOnlyList<string>? triggers, bool essential = false) =>
        WorkloadRequests.BuildDeploy(Spec(path, name, argv, triggers, essential), node.NodeId, node.Xkey, _issuer, _xkey);

    /// <summary>Runs <paramref name="replicas"/> copies of <paramref name="path"/> where the auction's best bids are, as
    /// <c>nex run</c> without <c>--node</c> does.</summary>
    public async Task RunAsync(string path, string name, IReadOnlyList<string>? argv, bool essential, int replicas, CancellationToken cancellationToken)
    {
        var result = await new WorkloadWorkflows(_client).RunReplicasAsync(null, Spec(path, name, argv, triggers: null, essential), replicas, _issuer, _xkey, cancellationToken).ConfigureAwait(false);
        if (result.Failures.Count > 0)
        {
            throw new BenchException($"run of {name}: {string.Join("; ", result.Failures)}");
        }
    }

    // What devrun would deploy for an uploaded artifact (its real SHA-256 as the JWT hash).
    private DeploySpec Spec(string path, string name, IReadOnlyList<string>? argv, IReadOnlyList<string>? triggers, bool essential)
    {
        var upload = _uploads[path];
        return new DeploySpec
        {
            Location = upload.Location,
            Name = name,
            Type = NexClient.WorkloadTypeForFile(path),
            Description = "nex bench",
            Argv = argv,
            Essential = essential,
            Triggers = triggers,
            Hash = upload.Sha256,
        };
    }

    /// <summary>The key that signs deploys and stops (the campaign forges stop tokens with it).</summary>
    public KeyPair Issuer => _issuer;

    public async Task<DeployedWorkload> SendAsync(BenchNode node, DeployRequest request, CancellationToken cancellationToken)
    {
        var response = await _client.DeployAsync(node.NodeId, request, cancellationToken).ConfigureAwait(false);
        return new DeployedWorkload(node.NodeId, response.Id, response.Name);
    }

    /// <summary>A stop request; it may wait up to a second (the stop JWT must not share the deploy's second).</summary>
    public Task<StopRequest> BuildStopAsync(DeployedWorkload workload, CancellationToken cancellationToken) =>
        WorkloadRequests.BuildStopAsync(workload.NodeId, workload.Id, workload.Name, _issuer, cancellationToken: cancellationToken);

    public Task<StopResponse> StopAsync(DeployedWorkload workload, StopRequest request, CancellationToken cancellationToken) =>
        _client.StopAsync(workload.NodeId, request, cancellationToken);

    public async Task StopAsync(DeployedWorkload workload, CancellationToken cancellationToken) =>
        await StopAsync(workload, await BuildStopAsync(workload, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>Requests <paramref name="subject"/> until a real reply comes (no responders until the service subscribed).</summary>
    public static async Task WaitAnsweringAsync(INatsConnection connection, string subject, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var opts = new NatsSubOpts { Timeout = TimeSpan.FromSeconds(1) };
        while (true)
        {
            try
            {
                var reply = await connection.RequestAsync<byte[], byte[]>(subject, "ping"u8.ToArray(), replyOpts: opts, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!reply.HasNoResponders)
                {
                    return;
                }
            }
            catch (NatsNoRespondersException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException($"nothing answered on {subject} within {timeout.TotalSeconds:0}s");
            }

            // Asking again at once would keep this process and nats-server busy on the 2 cores the
            // service needs to start; a 1 ms pause costs at most 1 ms of resolution.
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _issuer.Dispose();
        _xkey.Dispose();
    }
}
