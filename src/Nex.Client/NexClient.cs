using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Client;

/// <summary>Settings of a <see cref="NexClient"/>.</summary>
public sealed record NexClientOptions
{
    /// <summary>Defaults: namespace <c>default</c>, 2 s timeout.</summary>
    public static NexClientOptions Default { get; } = new();

    /// <summary>The namespace requests are made in.</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>Direct request timeout, and the most scatter/gather requests wait for replies.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A scatter/gather request ends this long after its last reply when no other arrives (as the
    /// <c>nats</c> CLI's reply gap): nodes answer within milliseconds of each other, so waiting out the
    /// whole <see cref="Timeout"/> only adds latency. <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>
    /// waits the full timeout, as 0.2 did.
    /// </summary>
    public TimeSpan GatherQuietGap { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>The clock of the timeout and the quiet gap.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// Typed client for the Nex 0.2 control API (spec §1) over an existing NATS connection.
/// Broadcasts (PING, AUCTION, WPING) gather replies until the expected count is reached, a quiet gap
/// follows the last reply (<see cref="NexClientOptions.GatherQuietGap"/>), or the timeout; direct requests
/// (INFO, DEPLOY, STOP, LAMEDUCK) return the node's data or throw its error text.
/// </summary>
public sealed partial class NexClient
{
    private readonly INatsConnection _connection;

    /// <summary>Creates a client on <paramref name="connection"/>; the caller owns the connection.</summary>
    public NexClient(INatsConnection connection, NexClientOptions? options = null)
    {
        _connection = connection ?? throw new ArgumentNullException(nameof(connection));
        Options = options ?? NexClientOptions.Default;
    }

    /// <summary>The options in effect.</summary>
    public NexClientOptions Options { get; }

    /// <summary>The connection used.</summary>
    public INatsConnection Connection => _connection;

    /// <summary>Every node's ping reply (spec §1.4); empty when none answers.</summary>
    public Task<IReadOnlyList<PingResponse>> PingAsync(CancellationToken cancellationToken = default) =>
        GatherAsync(NexSubjects.Ping, [], NexJson.Context.PingResponse, expected: null, cancellationToken);

    /// <summary>One node's ping reply (<c>$NEX.PING.&lt;node&gt;</c>).</summary>
    public Task<PingResponse> PingNodeAsync(string nodeId, CancellationToken cancellationToken = default) =>
        RequestAsync(NexSubjects.PingNode(nodeId), [], NexJson.Context.PingResponse, nodeId, cancellationToken);

    /// <summary>Nodes that match <paramref name="request"/> (spec §1.5); an empty request matches all.</summary>
    public Task<IReadOnlyList<PingResponse>> AuctionAsync(AuctionRequest? request = null, CancellationToken cancellationToken = default) =>
        GatherAsync(
            NexSubjects.Auction,
            request is null ? [] : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.AuctionRequest),
            NexJson.Context.PingResponse,
            expected: null,
            cancellationToken);

    /// <summary>Running workloads by node (spec §1.6), optionally filtered by id or name.</summary>
    /// <remarks>A workload id (an xid, unique) is run by one node: its reply ends the wait.</remarks>
    public Task<IReadOnlyList<WorkloadPingResponse>> WorkloadPingAsync(string? workloadIdOrName = null, CancellationToken cancellationToken = default) =>
        GatherAsync(
            NexSubjects.WPing(Options.Namespace, string.IsNullOrEmpty(workloadIdOrName) ? null : workloadIdOrName),
            [],
            NexJson.Context.WorkloadPingResponse,
            expected: workloadIdOrName is not null && LooksLikeWorkloadId(workloadIdOrName) ? 1 : null,
            cancellationToken);

    /// <summary>A node's details and its workloads in this namespace (spec §1.7).</summary>
    public Task<InfoResponse> InfoAsync(string nodeId, CancellationToken cancellationToken = default) =>
        RequestAsync(NexSubjects.Info(Options.Namespace, nodeId), [], NexJson.Context.InfoResponse, nodeId, cancellationToken);

    /// <summary>Deploys a workload (spec §1.8).</summary>
    public Task<RunResponse> DeployAsync(string nodeId, DeployRequest request, CancellationToken cancellationToken = default) =>
        RequestAsync(
            NexSubjects.Deploy(Options.Namespace, nodeId),
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.DeployRequest),
            NexJson.Context.RunResponse,
            nodeId,
            cancellationToken);

    /// <summary>Stops a workload (spec §1.9).</summary>
    public Task<StopResponse> StopAsync(string nodeId, StopRequest request, CancellationToken cancellationToken = default) =>
        RequestAsync(
            NexSubjects.Stop(Options.Namespace, nodeId),
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.StopRequest),
            NexJson.Context.StopResponse,
            nodeId,
            cancellationToken);

    /// <summary>Puts a node in lame duck mode (spec §1.10).</summary>
    public Task<LameDuckResponse> LameDuckAsync(string nodeId, CancellationToken cancellationToken = default) =>
        RequestAsync(NexSubjects.LameDuck(nodeId), [], NexJson.Context.LameDuckResponse, nodeId, cancellationToken);

    /// <summary>
    /// Finds a node by full id, unique id prefix, or <c>node_name</c> tag, using a PING broadcast.
    /// Returns the id as given when nothing matches, so the request itself reports the failure.
    /// </summary>
    public async Task<string> ResolveNodeIdAsync(string idPrefixOrName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(idPrefixOrName);
        if (idPrefixOrName.Length == 56 && idPrefixOrName[0] == 'N')
        {
            return idPrefixOrName;
        }

        var nodes = await PingAsync(cancellationToken).ConfigureAwait(false);
        var matches = nodes
            .Where(n => n.NodeId.StartsWith(idPrefixOrName, StringComparison.Ordinal)
                || (n.Tags is { } tags && tags.TryGetValue("node_name", out var name) && string.Equals(name, idPrefixOrName, StringComparison.OrdinalIgnoreCase)))
            .Select(n => n.NodeId)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => idPrefixOrName,
            _ => throw new NexClientException($"'{idPrefixOrName}' matches {matches.Count} nodes; use more of the node id"),
        };
    }

    private async Task<T> RequestAsync<T>(string subject, byte[] payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, string nodeId, CancellationToken cancellationToken)
    {
        NatsMsg<byte[]> reply;
        try
        {
            reply = await _connection.RequestAsync<byte[], byte[]>(
                subject,
                payload,
                replyOpts: new NatsSubOpts { Timeout = Options.Timeout },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsNoRespondersException ex)
        {
            throw new NexClientException($"no node {ShortId(nodeId)} is listening (is the node id right, and is the node up?)", ex);
        }
        catch (NatsNoReplyException ex)
        {
            throw new NexClientException($"no reply from node {ShortId(nodeId)} within {Options.Timeout.TotalSeconds:0.###}s", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NexClientException($"no reply from node {ShortId(nodeId)} within {Options.Timeout.TotalSeconds:0.###}s", ex);
        }

        if (reply.HasNoResponders)
        {
            throw new NexClientException($"no node {ShortId(nodeId)} is listening (is the node id right, and is the node up?)");
        }

        var result = NexEnvelope.Parse(reply.Data ?? [], typeInfo);
        if (!string.IsNullOrEmpty(result.Error))
        {
            throw new NexClientException(result.Error) { IsNodeError = true };
        }

        return result.Data ?? throw new NexClientException("the node replied without data");
    }

    // Workload ids are xids (20 characters of 0-9a-v, mixing digits and letters); a name of that shape
    // that is not an id only costs a missed second match, which STOP's own check then reports.
    internal static bool LooksLikeWorkloadId(string value) => Xid.IsValid(value) && value.Any(char.IsAsciiDigit) && value.Any(char.IsAsciiLetter);

    /// <summary>
    /// Publishes once and collects replies until <paramref name="expected"/> of them arrived, a quiet gap
    /// after the last one (<see cref="NexClientOptions.GatherQuietGap"/>), or the timeout, whichever is first.
    /// </summary>
    private async Task<IReadOnlyList<T>> GatherAsync<T>(string subject, byte[] payload, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, int? expected, CancellationToken cancellationToken)
    {
        var results = new List<T>();
        var inbox = _connection.NewInbox();
        await using var sub = await _connection.SubscribeCoreAsync<byte[]>(inbox, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _connection.PublishAsync(subject, payload, replyTo: inbox, cancellationToken: cancellationToken).ConfigureAwait(false);

        using var overall = new CancellationTokenSource(Options.Timeout, Options.Time);
        using var gap = new CancellationTokenSource(System.Threading.Timeout.InfiniteTimeSpan, Options.Time);
        using var window = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, overall.Token, gap.Token);
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(window.Token).ConfigureAwait(false))
            {
                if (msg.HasNoResponders)
                {
                    break; // nobody listens: no need to wait out the timeout
                }

                if (msg.Data is not { Length: > 0 } data)
                {
                    continue;
                }

                // As in 0.2: replies that do not parse, or carry an error, are dropped.
                var parsed = NexEnvelope.Parse(data, typeInfo);
                if (string.IsNullOrEmpty(parsed.Error) && parsed.Data is { } item)
                {
                    results.Add(item);
                    if (results.Count >= expected)
                    {
                        break;
                    }
                }

                if (Options.GatherQuietGap != System.Threading.Timeout.InfiniteTimeSpan)
                {
                    gap.CancelAfter(Options.GatherQuietGap);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The gather window closed.
        }

        return results;
    }

    internal static string ShortId(string nodeId) => nodeId.Length > 12 ? nodeId[..12] + "…" : nodeId;
}
