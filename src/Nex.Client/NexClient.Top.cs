using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Client;

public sealed partial class NexClient
{
    // INFO requests in flight at once: a large fleet times namespaces must not open hundreds of inboxes per refresh.
    private const int TopInfoConcurrency = 16;

    /// <summary>
    /// One reading for <c>nex top</c>: a PING broadcast (replies gathered as <see cref="PingAsync"/> does), then INFO of
    /// every node in each of <paramref name="namespaces"/>, all at once and each bounded by <see cref="NexClientOptions.Timeout"/>.
    /// A node that does not answer INFO is kept with a <see cref="TopNode.Problem"/>, not waited for.
    /// </summary>
    /// <param name="namespaces">The namespaces to list workloads of (INFO is per namespace, spec §1.7).</param>
    /// <param name="cancellationToken">Stops the reading.</param>
    /// <returns>The nodes and their workloads; nodes ordered by name then id.</returns>
    public async Task<TopSnapshot> ReadTopSnapshotAsync(IReadOnlyCollection<string> namespaces, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(namespaces);
        var asked = namespaces.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var pings = (await PingAsync(cancellationToken).ConfigureAwait(false))
            .DistinctBy(p => p.NodeId, StringComparer.Ordinal)
            .OrderBy(p => p.Tags?.GetValueOrDefault(NexTags.NodeName) ?? "", StringComparer.Ordinal)
            .ThenBy(p => p.NodeId, StringComparer.Ordinal)
            .ToList();

        using var gate = new SemaphoreSlim(TopInfoConcurrency);
        var requests = pings.SelectMany(p => asked.Select(ns => ReadInfoAsync(gate, p.NodeId, ns, cancellationToken))).ToList();
        var replies = await Task.WhenAll(requests).ConfigureAwait(false);

        var nodes = new List<TopNode>();
        var workloads = new List<TopWorkload>();
        foreach (var ping in pings)
        {
            var mine = replies.Where(r => r.NodeId == ping.NodeId).ToList();
            var name = ping.Tags?.GetValueOrDefault(NexTags.NodeName) ?? "";
            foreach (var reply in mine.Where(r => r.Info is not null))
            {
                workloads.AddRange(reply.Info!.Machines.Select(m => new TopWorkload(ping.NodeId, name, m.Namespace is { Length: > 0 } ns ? ns : reply.Namespace, m)));
            }

            var problem = mine.Select(r => r.Problem).FirstOrDefault(p => p is not null);
            nodes.Add(new TopNode(ping, mine.Select(r => r.Info).FirstOrDefault(i => i is not null), problem));
        }

        return new TopSnapshot(Options.Time.GetUtcNow(), nodes, workloads, asked);
    }

    /// <summary>
    /// The namespaces that have workloads recorded in the desired-state bucket: how <c>nex top</c> learns of namespaces
    /// it was not told about (INFO answers for one namespace at a time). Empty without the bucket or JetStream.
    /// </summary>
    /// <param name="cancellationToken">Stops the reading.</param>
    /// <returns>The namespaces, ordered, without duplicates.</returns>
    public async Task<IReadOnlyList<string>> ReadRecordedNamespacesAsync(CancellationToken cancellationToken = default)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(Options.Timeout);
        try
        {
            var records = await DesiredStateReader.ReadAsync(_connection, bounded.Token).ConfigureAwait(false);
            return records is null
                ? []
                : records.Select(r => r.Workload.Namespace).Where(ns => !string.IsNullOrEmpty(ns)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return []; // a hint only: top still shows the namespaces it is told of and sees in events
        }
    }

    private async Task<(string NodeId, string Namespace, InfoResponse? Info, string? Problem)> ReadInfoAsync(SemaphoreSlim gate, string nodeId, string ns, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var info = await RequestAsync(NexSubjects.Info(ns, nodeId), [], NexJson.Context.InfoResponse, nodeId, cancellationToken).ConfigureAwait(false);
            return (nodeId, ns, info, null);
        }
        catch (NexClientException ex)
        {
            return (nodeId, ns, null, ex.Message);
        }
        finally
        {
            gate.Release();
        }
    }
}
