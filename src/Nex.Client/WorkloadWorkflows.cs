using NATS.NKeys;
using Nex.Protocol;

namespace Nex.Client;

/// <summary>
/// The CLI's workload workflows (<c>nex run</c>, <c>devrun</c>, <c>stop</c>; spec §9.2–9.3) as library calls: pick the
/// node, deploy, stop. Errors are <see cref="NexClientException"/>s of one line.
/// </summary>
/// <param name="client">For discovery and INFO (its timeout bounds auctions).</param>
/// <param name="workClient">For DEPLOY and STOP, which do real work (a longer timeout); <paramref name="client"/> when null.</param>
public sealed class WorkloadWorkflows(NexClient client, NexClient? workClient = null)
{
    private const string NoNodes = "unable to locate candidate node - no nodes discovered";

    /// <summary>The description devrun deploys with, as 0.2.</summary>
    public const string DevModeDescription = "Workload published in devmode";

    private readonly NexClient _client = client ?? throw new ArgumentNullException(nameof(client));
    private readonly NexClient _worker = workClient ?? client;

    /// <summary>
    /// The target node: <paramref name="node"/> (id, prefix or name) when given; otherwise an AUCTION for
    /// the workload type, gathering the bids (until a quiet gap after the last one, or the timeout) and taking
    /// the best by <see cref="Placement.Score"/>, one of the equal best at random (0.2: any bidder at random).
    /// </summary>
    /// <param name="node">Node id, unique id prefix or node name; null or empty to auction.</param>
    /// <param name="auction">The auction filters.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The node id.</returns>
    /// <exception cref="NexClientException">No node matches or bids.</exception>
    public async Task<string> SelectNodeAsync(string? node, AuctionRequest auction, CancellationToken cancellationToken = default)
    {
        if (!string.IsNullOrEmpty(node))
        {
            return await _client.ResolveNodeIdAsync(node, cancellationToken).ConfigureAwait(false);
        }

        var bids = await _client.AuctionAsync(auction, cancellationToken).ConfigureAwait(false);
        return bids.Count == 0 ? throw new NexClientException(NoNodes) : Placement.Choose(bids).NodeId;
    }

    /// <summary>
    /// <c>nex run</c>: deploys <paramref name="spec"/> (an artifact already in an object store) on
    /// <paramref name="node"/>, or on the best node that bids for its type (<see cref="SelectNodeAsync"/>).
    /// </summary>
    /// <param name="node">Node id, unique id prefix or node name; null to auction.</param>
    /// <param name="spec">What to deploy.</param>
    /// <param name="issuer">The signing key.</param>
    /// <param name="senderXkey">The sender's curve key pair.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The node and its answer.</returns>
    public async Task<RunResult> RunAsync(string? node, DeploySpec spec, KeyPair issuer, KeyPair senderXkey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var nodeId = await SelectNodeAsync(node, new AuctionRequest { WorkloadTypes = [spec.Type] }, cancellationToken).ConfigureAwait(false);
        var info = await _client.InfoAsync(nodeId, cancellationToken).ConfigureAwait(false);
        var request = WorkloadRequests.BuildDeploy(spec, nodeId, info.PublicXkey, issuer, senderXkey);
        return new RunResult(nodeId, await _worker.DeployAsync(nodeId, request, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// <c>nex devrun</c>: picks a node (the best bidder unless <see cref="DevRunSpec.Node"/>), uploads the file,
    /// deploys it with the developer keys and then, unless told not to, stops the node's previous workloads of
    /// that name.
    /// </summary>
    /// <param name="spec">What to run.</param>
    /// <param name="upload">Uploads the file (to show progress); a plain upload when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What happened; a previous workload that could not be stopped is in <see cref="DevRunResult.StopFailure"/>.</returns>
    public async Task<DevRunResult> DevRunAsync(DevRunSpec spec, ArtifactUploader? upload = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.Name;
        var auction = new AuctionRequest { WorkloadTypes = [spec.Type] };
        if (spec.Type == WorkloadTypes.Native && NexClient.DetectPlatform(spec.Path) is { } platform)
        {
            auction = auction with { Os = platform.Os, Arch = platform.Arch };
        }

        var nodeId = await SelectNodeAsync(spec.Node, auction, cancellationToken).ConfigureAwait(false);
        var info = await _client.InfoAsync(nodeId, cancellationToken).ConfigureAwait(false);
        using var issuer = DevKeys.LoadOrCreateIssuer(spec.KeysHome);
        using var xkey = DevKeys.LoadOrCreateXkey(spec.KeysHome);

        var store = new ArtifactStore(_client.Connection);
        var uploaded = await (upload ?? PlainUpload)(store, spec.Path, spec.BucketMaxBytes, cancellationToken).ConfigureAwait(false);
        var deploy = new DeploySpec
        {
            Location = uploaded.Location,
            Name = name,
            Type = spec.Type,
            Environment = spec.Environment,
            Description = DevModeDescription,
            Argv = spec.Argv,
            Essential = spec.Essential,
            Triggers = spec.Triggers,
            Hash = uploaded.Sha256,
            FunctionTimeoutMs = spec.FunctionTimeoutMs,
            TriggerQueueGroup = spec.TriggerQueueGroup,
        };
        var request = WorkloadRequests.BuildDeploy(deploy, nodeId, info.PublicXkey, issuer, xkey);

        // Deploy first, then stop the previous ones of that name (nodes allow a name twice): when the node
        // refuses the new workload, the old one keeps running.
        var response = await _worker.DeployAsync(nodeId, request, cancellationToken).ConfigureAwait(false);
        var stopped = new List<string>();
        string? stopFailure = null;
        if (spec.StopPrevious)
        {
            foreach (var machine in info.Machines.Where(m => m.Workload.Name == name && m.Id != response.Id))
            {
                var stopRequest = await WorkloadRequests.BuildStopAsync(nodeId, machine.Id, name, issuer, cancellationToken: cancellationToken).ConfigureAwait(false);
                try
                {
                    if ((await _worker.StopAsync(nodeId, stopRequest, cancellationToken).ConfigureAwait(false)).Stopped)
                    {
                        stopped.Add(machine.Id);
                        continue;
                    }

                    stopFailure = $"the node did not stop the previous workload '{name}' ({machine.Id})";
                }
                catch (NexClientException ex)
                {
                    stopFailure = $"cannot stop the previous workload '{name}' ({machine.Id}): {ex.Message}";
                }
            }
        }

        return new DevRunResult(nodeId, response, stopped, stopFailure);
    }

    /// <summary>
    /// <c>nex stop</c>: finds the workload and stops it. With <paramref name="workload"/>, <paramref name="target"/>
    /// is the node (0.2's <c>stop &lt;node&gt; &lt;workload&gt;</c>) and the workload is looked up in its INFO;
    /// otherwise <paramref name="target"/> is a workload id or name found by WPING. An exact id wins over names.
    /// </summary>
    /// <param name="target">A workload id or name, or, with <paramref name="workload"/>, the node.</param>
    /// <param name="workload">A workload id or name on that node, or null.</param>
    /// <param name="name">The name for the stop token; null takes the found workload's.</param>
    /// <param name="issuer">The key that deployed it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What happened.</returns>
    /// <exception cref="NexClientException">No workload, or several, match.</exception>
    public async Task<StopResult> StopAsync(string target, string? workload, string? name, KeyPair issuer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(issuer);
        var (nodeId, workloadId, workloadName) = workload is null
            ? await FindAsync(target, name, cancellationToken).ConfigureAwait(false)
            : await FindOnNodeAsync(target, workload, name, cancellationToken).ConfigureAwait(false);
        var request = await WorkloadRequests.BuildStopAsync(nodeId, workloadId, workloadName, issuer, cancellationToken: cancellationToken).ConfigureAwait(false);
        var response = await _worker.StopAsync(nodeId, request, cancellationToken).ConfigureAwait(false);
        return new StopResult(nodeId, workloadName, response);
    }

    private async Task<(string NodeId, string WorkloadId, string WorkloadName)> FindOnNodeAsync(string node, string workload, string? givenName, CancellationToken cancellationToken)
    {
        var nodeId = await _client.ResolveNodeIdAsync(node, cancellationToken).ConfigureAwait(false);
        var info = await _client.InfoAsync(nodeId, cancellationToken).ConfigureAwait(false);
        var matches = info.Machines
            .Where(m => m.Id == workload || string.Equals(m.Workload.Name, workload, StringComparison.OrdinalIgnoreCase))
            .ToList();
        var exact = matches.Where(m => m.Id == workload).ToList();
        if (exact.Count == 1)
        {
            matches = exact;
        }

        return matches.Count switch
        {
            1 => (nodeId, matches[0].Id, givenName ?? matches[0].Workload.Name),

            // Not listed (e.g. another namespace): let the node answer, as 0.2 does.
            0 when givenName is not null => (nodeId, workload, givenName),
            0 => throw new NexClientException($"no workload '{workload}' found on node {nodeId} in namespace '{_client.Options.Namespace}'"),
            _ => throw new NexClientException($"'{workload}' matches {matches.Count} workloads on node {nodeId}: {string.Join(", ", matches.Select(m => m.Id))}; stop one by id"),
        };
    }

    private async Task<(string NodeId, string WorkloadId, string WorkloadName)> FindAsync(string workload, string? givenName, CancellationToken cancellationToken)
    {
        var found = await _client.FindWorkloadsAsync(workload, cancellationToken).ConfigureAwait(false);
        var exact = found.Where(w => w.Workload.Id == workload).ToList();
        if (exact.Count == 1)
        {
            found = exact;
        }

        var ns = _client.Options.Namespace;
        return found.Count switch
        {
            0 => throw new NexClientException($"no workload '{workload}' found in namespace '{ns}'"),
            1 => (found[0].NodeId, found[0].Workload.Id, givenName ?? found[0].Workload.Name),
            _ => throw new NexClientException($"'{workload}' matches {found.Count} workloads in namespace '{ns}': {string.Join(", ", found.Select(w => $"{w.Workload.Id} (node {w.NodeName})"))}; stop one by id"),
        };
    }

    private static Task<ArtifactUpload> PlainUpload(ArtifactStore store, string path, long maxBytes, CancellationToken cancellationToken) =>
        store.UploadFileAsync(path, maxBytes, progress: null, cancellationToken);
}
