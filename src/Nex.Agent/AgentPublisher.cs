using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Protocol;

namespace Nex.Agent;

/// <summary>
/// Publishes the agent's events (<c>hostint.&lt;id&gt;.events.&lt;type&gt;</c>) and log entries
/// (<c>hostint.&lt;id&gt;.logs</c>). Never throws: a lost message is logged to stderr instead.
/// </summary>
internal sealed partial class AgentPublisher
{
    /// <summary>Agent log level <c>error</c> (workload stderr).</summary>
    public const int ErrorLevel = 2;

    /// <summary>Agent log level <c>info</c> (workload stdout).</summary>
    public const int InfoLevel = 4;

    /// <summary>The <c>source</c> of the agent's own log entries.</summary>
    public const string AgentSource = "nex-agent";

    // Bounds every publish and flush: while the node is unreachable NATS.Net holds publishes until it
    // reconnects, and nothing here may hang the agent's shutdown.
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(2);

    private readonly INatsConnection _connection;
    private readonly string _agentId;
    private readonly string _logSubject;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the publisher.</summary>
    /// <param name="connection">The node connection.</param>
    /// <param name="agentId">The agent id (event source, subject token).</param>
    /// <param name="time">Clock for event times.</param>
    /// <param name="logger">Where publish failures are reported.</param>
    public AgentPublisher(INatsConnection connection, string agentId, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _agentId = agentId;
        _logSubject = AgentSubjects.Logs(agentId);
        _time = time;
        _logger = logger;
    }

    /// <summary>Publishes one log entry (not flushed: the connection writes it out at once anyway).</summary>
    /// <param name="source">Origin: the workload name or <see cref="AgentSource"/>.</param>
    /// <param name="level">Agent level (2 error, 4 info).</param>
    /// <param name="text">The text.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>A task that completes once the entry is handed to the connection.</returns>
    public async ValueTask PublishLogAsync(string source, int level, string text, CancellationToken cancellationToken)
    {
        var entry = new AgentLogEntry { Source = source, Level = level, Text = text };
        using var timeout = Bounded(cancellationToken);
        try
        {
            await _connection.PublishAsync(_logSubject, JsonSerializer.SerializeToUtf8Bytes(entry, NexJson.Context.AgentLogEntry), cancellationToken: timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException or TimeoutException)
        {
            LogPublishFailed(_logger, _logSubject, ex.Message);
        }
    }

    /// <summary>Publishes a CloudEvent with source = agent id, then flushes (a server round trip).</summary>
    /// <typeparam name="T">Payload type.</typeparam>
    /// <param name="type">Event type.</param>
    /// <param name="data">Payload.</param>
    /// <param name="typeInfo">Payload metadata from <see cref="NexJson.Context"/>.</param>
    /// <param name="cancellationToken">Cancels the publish.</param>
    /// <returns>A task that completes once the server has the event.</returns>
    public async ValueTask PublishEventAsync<T>(string type, T data, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var subject = AgentSubjects.Events(_agentId, type);
        var cloudEvent = CloudEvent.Create(_agentId, type, _time.GetUtcNow(), data, typeInfo);
        using (var timeout = Bounded(cancellationToken))
        {
            try
            {
                await _connection.PublishAsync(subject, JsonSerializer.SerializeToUtf8Bytes(cloudEvent, NexJson.Context.CloudEvent), cancellationToken: timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException or TimeoutException)
            {
                LogPublishFailed(_logger, subject, ex.Message);
                return;
            }
        }

        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A server round trip: everything published before it has reached the server.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes after the round trip (or its timeout).</returns>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        using var timeout = Bounded(cancellationToken);
        try
        {
            await _connection.PingAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException or TimeoutException)
        {
            LogFlushFailed(_logger, ex.Message);
        }
    }

    private TimeLimit Bounded(CancellationToken cancellationToken) => new(SendTimeout, _time, cancellationToken);

    /// <summary>An <see cref="IWorkloadOutput"/> that forwards a workload's output under its name.</summary>
    /// <param name="workloadName">The <c>source</c> of the entries.</param>
    /// <returns>The output sink.</returns>
    public IWorkloadOutput OutputFor(string workloadName) => new WorkloadOutput(this, workloadName);

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "Could not publish to {Subject}: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string subject, string reason);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "Could not flush to the node: {Reason}")]
    private static partial void LogFlushFailed(ILogger logger, string reason);

    private sealed class WorkloadOutput(AgentPublisher publisher, string workloadName) : IWorkloadOutput
    {
        public ValueTask WriteAsync(WorkloadStream stream, string text, CancellationToken cancellationToken) =>
            publisher.PublishLogAsync(workloadName, stream == WorkloadStream.StandardError ? ErrorLevel : InfoLevel, text, cancellationToken);
    }
}
