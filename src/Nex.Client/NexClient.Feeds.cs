using System.Runtime.CompilerServices;
using System.Threading.Channels;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Client;

/// <summary>An event received from <c>$NEX.events.&lt;ns&gt;.&lt;type&gt;</c>.</summary>
/// <param name="Namespace">Subject token 2.</param>
/// <param name="Type">Subject token 3 (the event type).</param>
/// <param name="Event">The CloudEvent; null when the body did not parse.</param>
/// <param name="Raw">The body as received.</param>
public sealed record NexEventMessage(string Namespace, string Type, CloudEvent? Event, ReadOnlyMemory<byte> Raw);

/// <summary>A log line received from <c>$NEX.logs.…</c>.</summary>
/// <param name="Namespace">Namespace.</param>
/// <param name="NodeId">Node that published it.</param>
/// <param name="WorkloadName">Workload name, when the line belongs to a workload.</param>
/// <param name="WorkloadId">Workload id.</param>
/// <param name="Level">Level text as sent (<c>INFO</c>, <c>ERROR</c>, Go offsets such as <c>INFO+2</c>).</param>
/// <param name="Text">The text.</param>
/// <param name="Received">Receive time (no timestamp is on the wire, as in 0.2).</param>
public sealed record NexLogLine(string Namespace, string NodeId, string WorkloadName, string WorkloadId, string Level, string Text, DateTimeOffset Received);

/// <summary>Which log lines to receive; <c>*</c> or null means any.</summary>
public sealed record LogFilter
{
    /// <summary>Namespace; the client's namespace when null.</summary>
    public string? Namespace { get; init; }

    /// <summary>Node id.</summary>
    public string? NodeId { get; init; }

    /// <summary>Workload name.</summary>
    public string? WorkloadName { get; init; }

    /// <summary>Workload id.</summary>
    public string? WorkloadId { get; init; }

    /// <summary>Lowest level shown (<c>debug</c>, <c>info</c>, <c>warn</c>, <c>error</c>); all when null.</summary>
    public string? MinLevel { get; init; }
}

public sealed partial class NexClient
{
    /// <summary>
    /// Events of a namespace (<c>*</c> for all) as they happen; node events (namespace
    /// <c>system</c>) are included, as in 0.2's monitor.
    /// </summary>
    public async IAsyncEnumerable<NexEventMessage> WatchEventsAsync(string? ns = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ns = string.IsNullOrEmpty(ns) ? Options.Namespace : ns;
        var subjects = new List<string> { NexSubjects.Event(ns, "*") };
        if (ns is not ("*" or NexSubjects.SystemNamespace))
        {
            subjects.Add(NexSubjects.Event(NexSubjects.SystemNamespace, "*"));
        }

        await foreach (var msg in MergeAsync(subjects, cancellationToken).ConfigureAwait(false))
        {
            var tokens = msg.Subject.Split('.');
            if (tokens.Length != 4)
            {
                continue;
            }

            var data = msg.Data ?? [];
            CloudEvent? cloudEvent = null;
            try
            {
                cloudEvent = System.Text.Json.JsonSerializer.Deserialize(data, NexJson.Context.CloudEvent);
            }
            catch (System.Text.Json.JsonException)
            {
                // Shown raw.
            }

            yield return new NexEventMessage(tokens[2], tokens[3], cloudEvent, data);
        }
    }

    /// <summary>
    /// Log lines matching <paramref name="filter"/>. Accepts both 0.2 subject orders
    /// (<c>…&lt;name&gt;.&lt;id&gt;</c> from nodes, <c>…&lt;id&gt;.&lt;name&gt;</c> from 0.2 agents).
    /// </summary>
    public async IAsyncEnumerable<NexLogLine> WatchLogsAsync(LogFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        filter ??= new LogFilter();
        var ns = filter.Namespace is { Length: > 0 } given ? given : Options.Namespace;

        var node = Any(filter.NodeId) ? "*" : filter.NodeId!;
        var minRank = filter.MinLevel is { Length: > 0 } level ? LogLevels.Rank(level.ToUpperInvariant()) : int.MinValue;

        await foreach (var msg in MergeAsync([NexSubjects.Log(ns, node, "*", "*")], cancellationToken).ConfigureAwait(false))
        {
            var tokens = msg.Subject.Split('.');
            if (tokens.Length != 6)
            {
                continue;
            }

            RawLog? raw;
            try
            {
                raw = System.Text.Json.JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.RawLog);
            }
            catch (System.Text.Json.JsonException)
            {
                continue;
            }

            if (raw is null)
            {
                continue;
            }

            // Which of tokens 4/5 is the id: the body names it; otherwise assume the documented order.
            var (name, id) = raw.Id is { Length: > 0 } rawId && tokens[4] == rawId ? (tokens[5], tokens[4]) : (tokens[4], tokens[5]);
            if (!Matches(filter.WorkloadName, name) || !Matches(filter.WorkloadId, id))
            {
                continue;
            }

            var levelText = string.IsNullOrEmpty(raw.Level) ? LogLevels.Info : raw.Level;
            if (LogLevels.Rank(levelText) < minRank)
            {
                continue;
            }

            yield return new NexLogLine(tokens[2], tokens[3], name, id, levelText, raw.Text ?? "", DateTimeOffset.UtcNow);
        }
    }

    private static bool Any(string? value) => string.IsNullOrEmpty(value) || value == "*";

    private static bool Matches(string? filter, string value) =>
        Any(filter) || string.Equals(filter, value, StringComparison.Ordinal);

    private async IAsyncEnumerable<NatsMsg<byte[]>> MergeAsync(IReadOnlyList<string> subjects, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<NatsMsg<byte[]>>(new UnboundedChannelOptions { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pumps = new List<Task>();
        foreach (var subject in subjects)
        {
            var sub = await _connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: stop.Token).ConfigureAwait(false);
            pumps.Add(PumpAsync(sub, channel.Writer, stop.Token));
        }

        _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception), TaskScheduler.Default);
        try
        {
            await foreach (var msg in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return msg;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(false);
        }
    }

    private static async Task PumpAsync(INatsSub<byte[]> sub, ChannelWriter<NatsMsg<byte[]>> writer, CancellationToken cancellationToken)
    {
        await using (sub.ConfigureAwait(false))
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    await writer.WriteAsync(msg, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped by the consumer.
            }
        }
    }
}
