using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Node.Events;

/// <summary>Publishes CloudEvents on <c>$NEX.events.&lt;ns&gt;.&lt;type&gt;</c> (spec §7) and log lines on
/// <c>$NEX.logs.…</c>. Publishing never throws: a lost event is logged, not fatal.</summary>
internal sealed partial class EventPublisher(INatsConnection connection, NodeState node, ILogger<EventPublisher> logger)
{
    /// <summary>Publishes a node-originated event; the source is the node id.</summary>
    public ValueTask PublishAsync<T>(string ns, string type, T data, JsonTypeInfo<T> typeInfo, DateTimeOffset? time = null, CancellationToken cancellationToken = default)
    {
        var cloudEvent = CloudEvent.Create(node.NodeId, type, time ?? node.Time.GetUtcNow(), data, typeInfo);
        return PublishAsync(ns, cloudEvent, cancellationToken);
    }

    /// <summary>Publishes an event as it is (used to forward agent events, with their namespace).</summary>
    public async ValueTask PublishAsync(string ns, CloudEvent cloudEvent, CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(cloudEvent, NexJson.Context.CloudEvent);
            await connection.PublishAsync(NexSubjects.Event(ns, cloudEvent.Type), bytes, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException)
        {
            LogPublishFailed(logger, cloudEvent.Type, ex.Message);
        }
    }

    /// <summary>Publishes a workload log line on <c>$NEX.logs.&lt;ns&gt;.&lt;node&gt;.&lt;name&gt;.&lt;id&gt;</c>
    /// (the documented token order, for every line: our fix of §11 #6), with the node's name and the time in
    /// headers (<see cref="LogHeaders"/>) for <c>nex logs --json</c>.</summary>
    public async ValueTask PublishLogAsync(string ns, string workloadName, string workloadId, string level, string text, CancellationToken cancellationToken = default)
    {
        try
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new RawLog { Text = text, Level = level, Id = workloadId }, NexJson.Context.RawLog);
            var headers = new NatsHeaders { [LogHeaders.Time] = LogHeaders.FormatTime(node.Time.GetUtcNow()) };
            if (node.Config.Tags.GetValueOrDefault(NexTags.NodeName) is { Length: > 0 } nodeName)
            {
                headers[LogHeaders.NodeName] = nodeName;
            }

            await connection.PublishAsync(NexSubjects.Log(ns, node.NodeId, workloadName, workloadId), bytes, headers, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or OperationCanceledException or ObjectDisposedException)
        {
            LogPublishFailed(logger, "log", ex.Message);
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Could not publish {What}: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string what, string reason);
}
