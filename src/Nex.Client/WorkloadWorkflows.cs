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

    /// <summary>The most copies one <c>--replicas</c> deploys.</summary>
    public const int MaxReplicas = 100;

    private readonly NexClient _client = client ?? throw new ArgumentNullException(nameof(client));
    private readonly NexClient _worker = workClient ?? client;

    /// <summary>
    /// Why <paramref name="replicas"/> copies cannot be placed as asked (one line), or null: 1 to
    /// <see cref="MaxReplicas"/>, and more than one only by auction (a named node would hold them all, which is
    /// no replication).
    /// </summary>
    /// <param name="replicas">How many copies.</param>
    /// <param name="node">The node named with <c>--node</c>, or null.</param>
    /// <returns>The problem, or null.</returns>
    public static string? ReplicasProblem(int replicas, string? node) => replicas switch
    {
        < 1 or > MaxReplicas => $"--replicas must be between 1 and {MaxReplicas} (got {replicas})",
        > 1 when !string.IsNullOrEmpty(node) => "--replicas needs an auction; drop --node",
        _ => null,
    };

    /// <summary>
    /// The nodes of <paramref name="replicas"/> copies: with one copy, <see cref="SelectNodeAsync"/>; with more, one
    /// AUCTION whose bids <see cref="Placement.Spread"/> ranks, a distinct node per copy while there are enough.
    /// </summary>
    /// <param name="node">Node id, unique id prefix or node name (one copy only); null or empty to auction.</param>
    /// <param name="auction">The auction filters.</param>
    /// <param name="replicas">How many copies (<see cref="ReplicasProblem"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One node id per copy.</returns>
    /// <exception cref="NexClientException">A bad <paramref name="replicas"/>, or no node matches or bids.</exception>
    public async Task<IReadOnlyList<string>> SelectNodesAsync(string? node, AuctionRequest auction, int replicas, CancellationToken cancellationToken = default)
    {
        if (ReplicasProblem(replicas, node) is { } problem)
        {
            throw new NexClientException(problem);
        }

        if (replicas == 1)
        {
            return [await SelectNodeAsync(node, auction, cancellationToken).ConfigureAwait(false)];
        }

        var bids = await _client.AuctionAsync(auction, cancellationToken).ConfigureAwait(false);
        return bids.Count == 0 ? throw new NexClientException(NoNodes) : [.. Placement.Spread(bids, replicas).Select(b => b.NodeId)];
    }

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
    /// <c>nex run --replicas N</c>: <paramref name="replicas"/> copies of <paramref name="spec"/> (same name), each a
    /// DEPLOY of its own, sealed to its own node's xkey, on the nodes <see cref="SelectNodesAsync"/> picks. One copy is
    /// exactly <see cref="RunAsync"/>. Copies that were accepted stay when others are refused (each has its own
    /// desired-state record); the refusals are in <see cref="ReplicasResult.Failures"/>.
    /// </summary>
    /// <param name="node">Node id, unique id prefix or node name (one copy only); null to auction.</param>
    /// <param name="spec">What to deploy.</param>
    /// <param name="replicas">How many copies.</param>
    /// <param name="issuer">The signing key.</param>
    /// <param name="senderXkey">The sender's curve key pair.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The accepted copies and the refusals.</returns>
    /// <exception cref="NexClientException">No copy was accepted (the first refusal), or no node bids.</exception>
    public async Task<ReplicasResult> RunReplicasAsync(string? node, DeploySpec spec, int replicas, KeyPair issuer, KeyPair senderXkey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (replicas == 1 && ReplicasProblem(replicas, node) is null)
        {
            return new ReplicasResult([await RunAsync(node, spec, issuer, senderXkey, cancellationToken).ConfigureAwait(false)], []);
        }

        var nodeIds = await SelectNodesAsync(node, new AuctionRequest { WorkloadTypes = [spec.Type] }, replicas, cancellationToken).ConfigureAwait(false);
        var xkeys = await XkeysAsync(nodeIds, cancellationToken).ConfigureAwait(false);
        return await DeployCopiesAsync(nodeIds, xkeys, spec, issuer, senderXkey, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>nex devrun</c>: picks the nodes (the best bidders unless <see cref="DevRunSpec.Node"/>; one per copy of
    /// <see cref="DevRunSpec.Replicas"/>), uploads the file, deploys it with the developer keys and then, unless told
    /// not to or a copy was refused, stops the previous workloads of that name wherever they run in the namespace
    /// (and the recorded ones waiting for a node).
    /// </summary>
    /// <param name="spec">What to run.</param>
    /// <param name="upload">Uploads the file (to show progress); a plain upload when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What happened; a previous workload that could not be stopped is in <see cref="DevRunResult.StopFailure"/>,
    /// refused copies (when some were accepted) in <see cref="DevRunResult.DeployFailures"/>.</returns>
    /// <exception cref="NexClientException">No copy was accepted (the first refusal), or no node bids.</exception>
    public async Task<DevRunResult> DevRunAsync(DevRunSpec spec, ArtifactUploader? upload = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var name = spec.Name;
        var auction = new AuctionRequest { WorkloadTypes = [spec.Type] };
        if (spec.Type == WorkloadTypes.Native && NexClient.DetectPlatform(spec.Path) is { } platform)
        {
            auction = auction with { Os = platform.Os, Arch = platform.Arch };
        }

        var nodeIds = await SelectNodesAsync(spec.Node, auction, spec.Replicas, cancellationToken).ConfigureAwait(false);
        var xkeys = await XkeysAsync(nodeIds, cancellationToken).ConfigureAwait(false);
        using var issuer = DevKeys.LoadOrCreateIssuer(spec.KeysHome);
        using var xkey = DevKeys.LoadOrCreateXkey(spec.KeysHome);

        // The previous ones of that name are looked for (WPING gathers for a while) during the upload and deploy.
        var previousSearch = spec.StopPrevious
            ? FindStopTargetsAsync(name, exactName: true, issuer.GetPublicKey(), cancellationToken)
            : Task.FromResult(new List<StopTarget>());
        try
        {
            return await DeployAndStopPreviousAsync(spec, nodeIds, xkeys, issuer, xkey, upload, previousSearch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await ((Task)previousSearch).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task<DevRunResult> DeployAndStopPreviousAsync(DevRunSpec spec, IReadOnlyList<string> nodeIds, Dictionary<string, string> xkeys, KeyPair issuer, KeyPair xkey, ArtifactUploader? upload, Task<List<StopTarget>> previousSearch, CancellationToken cancellationToken)
    {
        var name = spec.Name;
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
            ReuseContext = spec.ReuseContext,
        };

        // Deploy first, then stop the previous ones of that name (nodes allow a name twice): when a node
        // refuses a new copy, the old ones keep running.
        var (copies, failures) = await DeployCopiesAsync(nodeIds, xkeys, deploy, issuer, xkey, cancellationToken).ConfigureAwait(false);
        var stopped = new List<string>();
        string? stopFailure = null;
        if (spec.StopPrevious && failures.Count == 0)
        {
            // Wherever they run in the namespace (or wait, recorded, for a node): devrun twice leaves one set.
            var fresh = copies.Select(c => c.Response.Id).ToHashSet(StringComparer.Ordinal);
            var previous = await previousSearch.ConfigureAwait(false);
            foreach (var target in previous.Where(t => !fresh.Contains(t.WorkloadId)))
            {
                try
                {
                    var result = await StopTargetAsync(target, name, issuer, cancellationToken).ConfigureAwait(false);
                    if (result.Response.Stopped)
                    {
                        stopped.Add(target.WorkloadId);
                        continue;
                    }

                    stopFailure = $"the node did not stop the previous workload '{name}' ({target.WorkloadId})";
                }
                catch (NexClientException ex)
                {
                    stopFailure = $"cannot stop the previous workload '{name}' ({target.WorkloadId}): {ex.Message}";
                }
            }
        }

        return new DevRunResult(copies[0].NodeId, copies[0].Response, stopped, stopFailure) { Copies = copies, DeployFailures = failures };
    }

    /// <summary>
    /// <c>nex stop</c>: finds the workload and stops it. With <paramref name="workload"/>, <paramref name="target"/>
    /// is the node (0.2's <c>stop &lt;node&gt; &lt;workload&gt;</c>) and the workload is looked up in its INFO (a name
    /// that matches several there is refused); otherwise this is <see cref="StopAllAsync"/>, and the first stop is returned.
    /// </summary>
    /// <param name="target">A workload id or name, or, with <paramref name="workload"/>, the node.</param>
    /// <param name="workload">A workload id or name on that node, or null.</param>
    /// <param name="name">The name for the stop token; null takes the found workload's.</param>
    /// <param name="issuer">The key that deployed it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What happened.</returns>
    /// <exception cref="NexClientException">No workload matches, several match on the node, or the stop was refused.</exception>
    public async Task<StopResult> StopAsync(string target, string? workload, string? name, KeyPair issuer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(issuer);
        if (workload is null)
        {
            var all = await StopAllAsync(target, name, issuer, cancellationToken).ConfigureAwait(false);
            return all.Stopped.Count > 0 ? all.Stopped[0] : throw new NexClientException(all.Failures[0]);
        }

        var (nodeId, workloadId, workloadName) = await FindOnNodeAsync(target, workload, name, cancellationToken).ConfigureAwait(false);
        var request = await WorkloadRequests.BuildStopAsync(nodeId, workloadId, workloadName, issuer, cancellationToken: cancellationToken).ConfigureAwait(false);
        var response = await _worker.StopAsync(nodeId, request, cancellationToken).ConfigureAwait(false);
        return new StopResult(nodeId, workloadName, response);
    }

    /// <summary>
    /// <c>nex stop &lt;id|name&gt;</c>: an id stops exactly that workload; a name stops every workload of that name in the
    /// namespace, wherever it runs (the copies of <c>--replicas</c>, copies moved by the fleet), one STOP each with its
    /// own token. Workloads recorded in the desired state but running nowhere (their node died and they wait for
    /// another) are stopped for good too: their STOP goes to the recorded node when it answers PING, else to any node
    /// that does, which removes the record. Without desired state, only running workloads are found (as 0.2).
    /// </summary>
    /// <param name="target">A workload id or name (names compare case-insensitively, as WPING's filter).</param>
    /// <param name="name">The name for the stop tokens; null takes each workload's.</param>
    /// <param name="issuer">The key that deployed them.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stops; when several were tried, also the refusals (one line each).</returns>
    /// <exception cref="NexClientException">Nothing matches, or the only match could not be stopped.</exception>
    public async Task<StopAllResult> StopAllAsync(string target, string? name, KeyPair issuer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(issuer);
        var targets = await FindStopTargetsAsync(target, exactName: false, issuer.GetPublicKey(), cancellationToken).ConfigureAwait(false);
        switch (targets.Count)
        {
            case 0:
                throw new NexClientException($"no workload '{target}' found in namespace '{_client.Options.Namespace}'");
            case 1:
                return new StopAllResult([await StopTargetAsync(targets[0], name, issuer, cancellationToken).ConfigureAwait(false)], []);
        }

        var stopped = new List<StopResult>();
        var failures = new List<string>();
        foreach (var found in targets)
        {
            try
            {
                stopped.Add(await StopTargetAsync(found, name, issuer, cancellationToken).ConfigureAwait(false));
            }
            catch (NexClientException ex)
            {
                failures.Add($"cannot stop workload '{found.Name}' ({found.WorkloadId}){(found.NodeId is { } node ? $" on node {node}" : " (recorded, not running)")}: {ex.Message}");
            }
        }

        return new StopAllResult(stopped, failures);
    }

    /// <summary>
    /// The workloads a stop of <paramref name="target"/> reaches: running ones (WPING; an exact id alone when it
    /// runs), then desired-state records of the namespace that match and run nowhere (an id also matches a record's
    /// key, the workload's first id, and when that workload runs under its new id, the running one is taken). Only
    /// records deployed by <paramref name="issuer"/> count: no other key can stop them, and records of other users
    /// (or left by nodes long gone) must not turn a stop of one's own workloads into errors.
    /// </summary>
    private async Task<List<StopTarget>> FindStopTargetsAsync(string target, bool exactName, string issuer, CancellationToken cancellationToken)
    {
        var ns = _client.Options.Namespace;
        var running = exactName
            ? await FindByNameOnEveryNodeAsync(target, cancellationToken).ConfigureAwait(false)
            : await _client.FindWorkloadsAsync(target, cancellationToken).ConfigureAwait(false);
        if (!exactName && running.Where(w => w.Workload.Id == target).ToList() is [var exact])
        {
            return [StopTarget.Running(exact)];
        }

        var targets = running.Select(StopTarget.Running).ToList();
        var runningIds = running.Select(w => w.Workload.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var record in await ReadRecordsAsync(cancellationToken).ConfigureAwait(false))
        {
            var workload = record.Workload;
            if (!string.Equals(workload.Namespace, ns, StringComparison.Ordinal) || runningIds.Contains(workload.WorkloadId)
                || string.IsNullOrEmpty(workload.WorkloadId) || IssuerOf(workload) != issuer)
            {
                continue;
            }

            var byName = string.Equals(workload.Name, target, exactName ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
            var byId = !exactName && (workload.WorkloadId == target || record.Key == DesiredState.Key(ns, target));
            if (!byName && !byId)
            {
                continue;
            }

            // Asked by its first id (the key) after a restart gave it a new one: it may well run.
            if (byId && workload.WorkloadId != target
                && (await _client.FindWorkloadsAsync(workload.WorkloadId, cancellationToken).ConfigureAwait(false)).FirstOrDefault(w => w.Workload.Id == workload.WorkloadId) is { } live)
            {
                targets.Add(StopTarget.Running(live));
                runningIds.Add(live.Workload.Id);
                continue;
            }

            targets.Add(new StopTarget(null, workload.WorkloadId, workload.Name, workload.NodeId));
            runningIds.Add(workload.WorkloadId);
        }

        return targets;
    }

    private static string? IssuerOf(DesiredWorkload workload)
    {
        try
        {
            return Nex.Security.WorkloadJwt.Decode(workload.Request.WorkloadJwt).Iss;
        }
        catch (Nex.Security.NexSecurityException)
        {
            return null;
        }
    }

    // Every node (PING) and its workloads of exactly that name (INFO): a WPING that matches nothing is answered by
    // silence, so it would wait out the whole timeout on a devrun's first run of a name.
    private async Task<List<WorkloadLocator>> FindByNameOnEveryNodeAsync(string name, CancellationToken cancellationToken)
    {
        var nodes = await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        var infos = await Task.WhenAll(nodes.DistinctBy(n => n.NodeId, StringComparer.Ordinal).Select(async node =>
        {
            try
            {
                return (Node: node, Info: await _client.InfoAsync(node.NodeId, cancellationToken).ConfigureAwait(false));
            }
            catch (NexClientException)
            {
                return (Node: node, Info: (InfoResponse?)null); // gone since its PING: nothing to stop there
            }
        })).ConfigureAwait(false);
        return [.. infos
            .Where(i => i.Info is not null)
            .SelectMany(i => i.Info!.Machines
                .Where(m => string.Equals(m.Workload.Name, name, StringComparison.Ordinal))
                .Select(m => new WorkloadLocator(i.Node.NodeId, i.Node.Tags?.GetValueOrDefault("node_name") ?? i.Node.NodeId, new WorkloadPingMachine { Id = m.Id, Name = m.Workload.Name, Namespace = _client.Options.Namespace })))];
    }

    // The desired state, or nothing when there is none or it cannot be read in time (then stop finds as 0.2 does).
    private async Task<IReadOnlyList<DesiredRecord>> ReadRecordsAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_client.Options.Timeout);
        try
        {
            return await DesiredStateReader.ReadAsync(_client.Connection, timeout.Token).ConfigureAwait(false) ?? [];
        }
        catch (Exception ex) when (ex is NATS.Client.Core.NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return [];
        }
    }

    private async Task<StopResult> StopTargetAsync(StopTarget target, string? givenName, KeyPair issuer, CancellationToken cancellationToken)
    {
        var nodeId = target.NodeId ?? await LiveNodeForAsync(target, cancellationToken).ConfigureAwait(false);
        var workloadName = givenName ?? target.Name;
        var request = await WorkloadRequests.BuildStopAsync(nodeId, target.WorkloadId, workloadName, issuer, cancellationToken: cancellationToken).ConfigureAwait(false);
        var response = await _worker.StopAsync(nodeId, request, cancellationToken).ConfigureAwait(false);
        return new StopResult(nodeId, workloadName, response);
    }

    // A recorded workload's STOP goes to its node when that answers (the node accepts it for its own record),
    // else to any node that answers (a node accepts a record whose node does not answer).
    private async Task<string> LiveNodeForAsync(StopTarget target, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(target.RecordNodeId))
        {
            try
            {
                return (await _client.PingNodeAsync(target.RecordNodeId, cancellationToken).ConfigureAwait(false)).NodeId;
            }
            catch (NexClientException)
            {
                // Gone: another node removes the record.
            }
        }

        var nodes = await _client.PingAsync(cancellationToken).ConfigureAwait(false);
        return nodes.Count > 0
            ? nodes.OrderBy(n => n.NodeId, StringComparer.Ordinal).First().NodeId
            : throw new NexClientException($"no node answers to stop the recorded workload '{target.Name}' ({target.WorkloadId})");
    }

    // Each copy's node xkey (INFO), before anything is uploaded or deployed.
    private async Task<Dictionary<string, string>> XkeysAsync(IReadOnlyList<string> nodeIds, CancellationToken cancellationToken)
    {
        var distinct = nodeIds.Distinct(StringComparer.Ordinal).ToList();
        var infos = await Task.WhenAll(distinct.Select(id => _client.InfoAsync(id, cancellationToken))).ConfigureAwait(false);
        return distinct.Zip(infos).ToDictionary(p => p.First, p => p.Second.PublicXkey, StringComparer.Ordinal);
    }

    // One DEPLOY per copy, each sealed to its node's xkey, all at once. One copy fails as before (its error);
    // of several, the accepted stay and the refused are reported, unless none was accepted.
    private async Task<ReplicasResult> DeployCopiesAsync(IReadOnlyList<string> nodeIds, Dictionary<string, string> xkeys, DeploySpec spec, KeyPair issuer, KeyPair senderXkey, CancellationToken cancellationToken)
    {
        var requests = nodeIds.Select(id => WorkloadRequests.BuildDeploy(spec, id, xkeys[id], issuer, senderXkey)).ToList();
        if (nodeIds.Count == 1)
        {
            return new ReplicasResult([new RunResult(nodeIds[0], await _worker.DeployAsync(nodeIds[0], requests[0], cancellationToken).ConfigureAwait(false))], []);
        }

        var attempts = await Task.WhenAll(nodeIds.Select(async (id, i) =>
        {
            try
            {
                return (Copy: new RunResult(id, await _worker.DeployAsync(id, requests[i], cancellationToken).ConfigureAwait(false)), Failure: (string?)null);
            }
            catch (NexClientException ex)
            {
                return (Copy: (RunResult?)null, Failure: $"node {id}: {ex.Message}");
            }
        })).ConfigureAwait(false);
        var copies = attempts.Select(a => a.Copy).OfType<RunResult>().ToList();
        var failures = attempts.Select(a => a.Failure).OfType<string>().ToList();
        return copies.Count > 0
            ? new ReplicasResult(copies, failures)
            : throw new NexClientException($"no copy of '{spec.Name}' was accepted; {failures[0]}");
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

    private static Task<ArtifactUpload> PlainUpload(ArtifactStore store, string path, long maxBytes, CancellationToken cancellationToken) =>
        store.UploadFileAsync(path, maxBytes, progress: null, cancellationToken);

    /// <summary>A workload to stop: running on <see cref="NodeId"/>, or (NodeId null) recorded for <see cref="RecordNodeId"/> and running nowhere.</summary>
    private sealed record StopTarget(string? NodeId, string WorkloadId, string Name, string? RecordNodeId)
    {
        public static StopTarget Running(WorkloadLocator found) => new(found.NodeId, found.Workload.Id, found.Workload.Name, null);
    }
}
