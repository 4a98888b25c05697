using System.Text.Json;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.InternalNats;
using Nex.Protocol;

namespace Nex.Node.Agents;

/// <summary>What the node does with what agents send.</summary>
internal interface IAgentListener
{
    /// <summary>An agent published an event on <c>hostint.&lt;id&gt;.events.&lt;type&gt;</c>.</summary>
    ValueTask OnAgentEventAsync(string agentId, CloudEvent cloudEvent);

    /// <summary>An agent published a log entry on <c>hostint.&lt;id&gt;.logs</c>.</summary>
    ValueTask OnAgentLogAsync(string agentId, AgentLogEntry entry);

    /// <summary>An agent called a host service (<c>hostint.&lt;id&gt;.rpc.…</c>); the listener replies. Calls arrive
    /// concurrently (a function may await several at once).</summary>
    ValueTask OnHostServiceCallAsync(string agentId, NatsMsg<byte[]> msg);
}

/// <summary>
/// The node's end of the internal protocol (spec §5.3) with one agent: a connection inside that
/// agent's own account, opened before the agent starts so its handshake cannot be missed (0.2
/// raced this, §11 #4). Everything it receives comes from that agent and no other. Its subjects are endpoints of
/// one <see cref="NatsEndpoints"/> group: handshake, events, logs and artifact chunks in order; host-service calls
/// concurrently.
/// </summary>
internal sealed partial class AgentLink : IAsyncDisposable
{
    private readonly NatsConnection _connection;
    private readonly string _id;
    private readonly IAgentListener _listener;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<HandshakeRequest> _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly NatsEndpoints _endpoints;
    private int _disposed;
    private byte[]? _artifact;

    private AgentLink(NatsConnection connection, string id, IAgentListener listener, ILogger logger)
    {
        _connection = connection;
        _id = id;
        _listener = listener;
        _logger = logger;
        _endpoints = new NatsEndpoints(OnFailedAsync);
    }

    /// <summary>The connection inside the agent's account (artifact cache, triggers).</summary>
    public NatsConnection Connection => _connection;

    /// <summary>Completes with the agent's handshake.</summary>
    public Task<HandshakeRequest> Handshake => _handshake.Task;

    /// <summary>
    /// Makes <paramref name="artifact"/> the bytes this agent downloads (in chunks, on
    /// <c>hostint.&lt;id&gt;.artifact</c>) when it is told to deploy.
    /// </summary>
    public void OfferArtifact(byte[] artifact) => Volatile.Write(ref _artifact, artifact);

    public static async Task<AgentLink> OpenAsync(InternalNatsServer server, string id, WorkloadCredentials credentials, IAgentListener listener, ILogger logger, CancellationToken cancellationToken)
    {
        var connection = await server.ConnectAsWorkloadAsync(credentials.NodeSeed, id, cancellationToken).ConfigureAwait(false);
        var link = new AgentLink(connection, id, listener, logger);
        try
        {
            var endpoints = link._endpoints;
            await endpoints.AddAsync(connection, AgentSubjects.Handshake(id), (msg, _) => link.OnHandshakeAsync(msg), cancellationToken: cancellationToken).ConfigureAwait(false);
            await endpoints.AddAsync(connection, AgentSubjects.EventsWildcard(id), (msg, _) => link.OnEventAsync(msg), cancellationToken: cancellationToken).ConfigureAwait(false);
            await endpoints.AddAsync(connection, AgentSubjects.Logs(id), (msg, _) => link.OnLogAsync(msg), cancellationToken: cancellationToken).ConfigureAwait(false);
            await endpoints.AddAsync(connection, AgentSubjects.Artifact(id), (msg, _) => link.OnArtifactRequestAsync(msg), cancellationToken: cancellationToken).ConfigureAwait(false);
            await endpoints.AddAsync(connection, AgentSubjects.HostServicesRpcCalls(id), (msg, _) => listener.OnHostServiceCallAsync(id, msg), NatsEndpointOptions.Concurrent, cancellationToken).ConfigureAwait(false);
            await connection.PingAsync(cancellationToken).ConfigureAwait(false);
            return link;
        }
        catch
        {
            await link.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<AgentDeployResponse> DeployAsync(AgentDeployRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var reply = await RequestAsync(AgentSubjects.Deploy(_id), JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.AgentDeployRequest), timeout, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize(reply, NexJson.Context.AgentDeployResponse)
                ?? throw new JsonException("empty reply");
        }
        catch (JsonException ex)
        {
            throw new AgentRequestException($"invalid deploy reply from agent: {ex.Message}", ex);
        }
    }

    public Task UndeployAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        RequestAsync(AgentSubjects.Undeploy(_id), [], timeout, cancellationToken);

    public async Task<bool> PingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await RequestAsync(AgentSubjects.AgentPing(_id), [], timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AgentRequestException)
        {
            return false;
        }
    }

    public async Task<byte[]> RequestAsync(string subject, byte[] body, TimeSpan timeout, CancellationToken cancellationToken, NatsHeaders? headers = null)
    {
        try
        {
            var reply = await _connection.RequestAsync<byte[], byte[]>(subject, body, headers: headers, replyOpts: new NatsSubOpts { Timeout = timeout }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.HasNoResponders ? throw new AgentRequestException("no responders") : reply.Data ?? [];
        }
        catch (NatsNoRespondersException ex)
        {
            throw new AgentRequestException("no responders", ex);
        }
        catch (NatsNoReplyException ex)
        {
            throw new AgentRequestException($"timeout after {timeout.TotalMilliseconds:0}ms", ex);
        }
        catch (NatsException ex)
        {
            throw new AgentRequestException(ex.Message, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _endpoints.DisposeAsync().ConfigureAwait(false);
        _handshake.TrySetCanceled();
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private ValueTask OnFailedAsync(NatsMsg<byte[]> msg, Exception ex)
    {
        LogAgentMessageFailed(_logger, msg.Subject, ex.Message);
        return ValueTask.CompletedTask;
    }

    private async ValueTask OnHandshakeAsync(NatsMsg<byte[]> msg)
    {
        HandshakeRequest? handshake = null;
        try
        {
            handshake = JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.HandshakeRequest);
        }
        catch (JsonException ex)
        {
            LogAgentMessageFailed(_logger, msg.Subject, ex.Message);
        }

        if (msg.ReplyTo is { } replyTo)
        {
            await _connection.PublishAsync(replyTo, "{}"u8.ToArray()).ConfigureAwait(false);
        }

        if (handshake is not null)
        {
            _handshake.TrySetResult(handshake);
        }
    }

    private ValueTask OnEventAsync(NatsMsg<byte[]> msg)
    {
        CloudEvent? cloudEvent;
        try
        {
            cloudEvent = JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.CloudEvent);
        }
        catch (JsonException ex)
        {
            LogAgentMessageFailed(_logger, msg.Subject, ex.Message);
            return ValueTask.CompletedTask;
        }

        if (cloudEvent is null)
        {
            return ValueTask.CompletedTask;
        }

        // The subject names the type (0.2 routes by it); a body without one takes it from there.
        if (string.IsNullOrEmpty(cloudEvent.Type) && NexSubjects.TryGetToken(msg.Subject, 3) is { } type)
        {
            cloudEvent = cloudEvent with { Type = type };
        }

        return _listener.OnAgentEventAsync(_id, cloudEvent);
    }

    private async ValueTask OnArtifactRequestAsync(NatsMsg<byte[]> msg)
    {
        if (msg.ReplyTo is not { } replyTo)
        {
            return;
        }

        var artifact = Volatile.Read(ref _artifact);
        var headers = new NatsHeaders();
        if (artifact is null)
        {
            headers[AgentSubjects.ArtifactErrorHeader] = "no artifact has been offered to this agent";
            await _connection.PublishAsync(replyTo, Array.Empty<byte>(), headers).ConfigureAwait(false);
            return;
        }

        var offset = msg.Headers is { } h && h.TryGetValue(AgentSubjects.ArtifactOffsetHeader, out var value)
            && long.TryParse(value.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
            ? Math.Min(parsed, artifact.LongLength)
            : 0;
        var length = (int)Math.Min(AgentSubjects.ArtifactChunkSize, artifact.LongLength - offset);
        headers[AgentSubjects.ArtifactSizeHeader] = artifact.LongLength.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await _connection.PublishAsync(replyTo, artifact.AsMemory((int)offset, length).ToArray(), headers).ConfigureAwait(false);
    }

    private ValueTask OnLogAsync(NatsMsg<byte[]> msg)
    {
        AgentLogEntry? entry;
        try
        {
            entry = JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.AgentLogEntry);
        }
        catch (JsonException ex)
        {
            LogAgentMessageFailed(_logger, msg.Subject, ex.Message);
            return ValueTask.CompletedTask;
        }

        return entry is null ? ValueTask.CompletedTask : _listener.OnAgentLogAsync(_id, entry);
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Bad message from an agent on {Subject}: {Reason}")]
    private static partial void LogAgentMessageFailed(ILogger logger, string subject, string reason);
}

/// <summary>A request to an agent failed (no answer, or a broken one).</summary>
internal sealed class AgentRequestException : Exception
{
    public AgentRequestException(string message)
        : base(message)
    {
    }

    public AgentRequestException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
