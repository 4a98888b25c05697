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
public sealed record NexLogLine(string Namespace, string NodeId, string WorkloadName, string WorkloadId, string Level, string Text, DateTimeOffset Received)
{
    /// <summary>The node's name, from its <c>Nex-Node-Name</c> header (null from nodes that do not send it, 0.2's).</summary>
    public string? NodeName { get; init; }

    /// <summary>When the node published the line (its <c>Nex-Time</c> header), else <see cref="Received"/>.</summary>
    public DateTimeOffset Time { get => field == default ? Received : field; init; }
}

/// <summary>What happened to the NATS connection a feed is read over.</summary>
public enum FeedConnectionState
{
    /// <summary>The connection dropped; the client is reconnecting and nothing arrives meanwhile.</summary>
    Lost,

    /// <summary>The connection is back; the feed's subscriptions were renewed (what was published meanwhile is gone).</summary>
    Restored,
}

/// <summary>A change of the connection a feed is read over.</summary>
/// <param name="State">Lost or restored.</param>
/// <param name="Detail">NATS.Net's words for it (usually the server URL).</param>
/// <param name="Time">When the client saw it.</param>
public sealed record FeedConnectionNotice(FeedConnectionState State, string Detail, DateTimeOffset Time);

/// <summary>One item of a feed watched with connection notices: either a value or a notice.</summary>
/// <typeparam name="T">The feed's value type.</typeparam>
/// <param name="Value">The value, when this is not a notice.</param>
/// <param name="Notice">The notice, when this is not a value.</param>
public readonly record struct FeedItem<T>(T? Value, FeedConnectionNotice? Notice)
    where T : class;

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
        await foreach (var item in WatchEventsCoreAsync(ns, notices: false, cancellationToken).ConfigureAwait(false))
        {
            yield return item.Value!;
        }
    }

    /// <summary>
    /// As <see cref="WatchEventsAsync"/>, with a <see cref="FeedConnectionNotice"/> in the stream when the
    /// connection drops and when it is back, so a watcher can tell silence from an outage.
    /// </summary>
    public IAsyncEnumerable<FeedItem<NexEventMessage>> WatchEventsWithNoticesAsync(string? ns = null, CancellationToken cancellationToken = default) =>
        WatchEventsCoreAsync(ns, notices: true, cancellationToken);

    /// <summary>
    /// Log lines matching <paramref name="filter"/>. Accepts both 0.2 subject orders
    /// (<c>…&lt;name&gt;.&lt;id&gt;</c> from nodes, <c>…&lt;id&gt;.&lt;name&gt;</c> from 0.2 agents).
    /// </summary>
    public async IAsyncEnumerable<NexLogLine> WatchLogsAsync(LogFilter? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in WatchLogsCoreAsync(filter, notices: false, cancellationToken).ConfigureAwait(false))
        {
            yield return item.Value!;
        }
    }

    /// <summary>
    /// As <see cref="WatchLogsAsync"/>, with a <see cref="FeedConnectionNotice"/> in the stream when the
    /// connection drops and when it is back.
    /// </summary>
    public IAsyncEnumerable<FeedItem<NexLogLine>> WatchLogsWithNoticesAsync(LogFilter? filter = null, CancellationToken cancellationToken = default) =>
        WatchLogsCoreAsync(filter, notices: true, cancellationToken);

    private async IAsyncEnumerable<FeedItem<NexEventMessage>> WatchEventsCoreAsync(string? ns, bool notices, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ns = string.IsNullOrEmpty(ns) ? Options.Namespace : ns;
        var subjects = new List<string> { NexSubjects.Event(ns, "*") };
        if (ns is not ("*" or NexSubjects.SystemNamespace))
        {
            subjects.Add(NexSubjects.Event(NexSubjects.SystemNamespace, "*"));
        }

        await foreach (var (msg, notice) in MergeAsync(subjects, notices, cancellationToken).ConfigureAwait(false))
        {
            if (notice is not null)
            {
                yield return new FeedItem<NexEventMessage>(null, notice);
                continue;
            }

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

            yield return new FeedItem<NexEventMessage>(new NexEventMessage(tokens[2], tokens[3], cloudEvent, data), null);
        }
    }

    private async IAsyncEnumerable<FeedItem<NexLogLine>> WatchLogsCoreAsync(LogFilter? filter, bool notices, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        filter ??= new LogFilter();
        var ns = filter.Namespace is { Length: > 0 } given ? given : Options.Namespace;

        var node = Any(filter.NodeId) ? "*" : filter.NodeId!;
        var minRank = filter.MinLevel is { Length: > 0 } level ? LogLevels.Rank(level.ToUpperInvariant()) : int.MinValue;

        await foreach (var (msg, notice) in MergeAsync([NexSubjects.Log(ns, node, "*", "*")], notices, cancellationToken).ConfigureAwait(false))
        {
            if (notice is not null)
            {
                yield return new FeedItem<NexLogLine>(null, notice);
                continue;
            }

            if (ParseLog(msg, filter, minRank, Options.Time.GetUtcNow()) is { } line)
            {
                yield return new FeedItem<NexLogLine>(line, null);
            }
        }
    }

    private static NexLogLine? ParseLog(NatsMsg<byte[]> msg, LogFilter filter, int minRank, DateTimeOffset received)
    {
        var tokens = msg.Subject.Split('.');
        if (tokens.Length != 6)
        {
            return null;
        }

        RawLog? raw;
        try
        {
            raw = System.Text.Json.JsonSerializer.Deserialize(msg.Data ?? [], NexJson.Context.RawLog);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }

        if (raw is null)
        {
            return null;
        }

        // Which of tokens 4/5 is the id: the body names it; otherwise assume the documented order.
        var (name, id) = raw.Id is { Length: > 0 } rawId && tokens[4] == rawId ? (tokens[5], tokens[4]) : (tokens[4], tokens[5]);
        if (!Matches(filter.WorkloadName, name) || !Matches(filter.WorkloadId, id))
        {
            return null;
        }

        var levelText = string.IsNullOrEmpty(raw.Level) ? LogLevels.Info : raw.Level;
        if (LogLevels.Rank(levelText) < minRank)
        {
            return null;
        }

        string? Header(string key) => msg.Headers is { } headers && headers.TryGetValue(key, out var values) && values.Count > 0 ? values[0] : null;
        return new NexLogLine(tokens[2], tokens[3], name, id, levelText, raw.Text ?? "", received)
        {
            NodeName = Header(LogHeaders.NodeName) is { Length: > 0 } nodeName ? nodeName : null,
            Time = LogHeaders.TryParseTime(Header(LogHeaders.Time), out var sent) ? sent : received,
        };
    }

    private static bool Any(string? value) => string.IsNullOrEmpty(value) || value == "*";

    private static bool Matches(string? filter, string value) =>
        Any(filter) || string.Equals(filter, value, StringComparison.Ordinal);

    private async IAsyncEnumerable<(NatsMsg<byte[]> Msg, FeedConnectionNotice? Notice)> MergeAsync(IReadOnlyList<string> subjects, bool notices, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<(NatsMsg<byte[]>, FeedConnectionNotice?)>(new UnboundedChannelOptions { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var watcher = notices ? new ConnectionWatcher(_connection, Options.Time, notice => channel.Writer.TryWrite((default, notice))) : null;
        var pumps = new List<Task>();
        foreach (var subject in subjects)
        {
            var sub = await _connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: stop.Token).ConfigureAwait(false);
            pumps.Add(PumpAsync(sub, channel.Writer, stop.Token));
        }

        _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception), TaskScheduler.Default);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return item;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(false);
        }
    }

    private static async Task PumpAsync(INatsSub<byte[]> sub, ChannelWriter<(NatsMsg<byte[]>, FeedConnectionNotice?)> writer, CancellationToken cancellationToken)
    {
        await using (sub.ConfigureAwait(false))
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    await writer.WriteAsync((msg, null), cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped by the consumer.
            }
        }
    }

    /// <summary>
    /// Turns NATS.Net's connection events into one notice per outage and one per return. NATS.Net raises
    /// <c>ReconnectFailed</c> at every failed attempt (every couple of seconds): a watcher wants to know the
    /// feed is down, not each retry, so those are not reported.
    /// </summary>
    private sealed class ConnectionWatcher : IDisposable
    {
        private readonly INatsConnection _connection;
        private readonly TimeProvider _time;
        private readonly Action<FeedConnectionNotice> _notify;
        private int _lost;

        public ConnectionWatcher(INatsConnection connection, TimeProvider time, Action<FeedConnectionNotice> notify)
        {
            _connection = connection;
            _time = time;
            _notify = notify;
            connection.ConnectionDisconnected += OnDisconnectedAsync;
            connection.ConnectionOpened += OnOpenedAsync;
        }

        public void Dispose()
        {
            _connection.ConnectionDisconnected -= OnDisconnectedAsync;
            _connection.ConnectionOpened -= OnOpenedAsync;
        }

        private ValueTask OnDisconnectedAsync(object? sender, NatsEventArgs args)
        {
            if (Interlocked.Exchange(ref _lost, 1) == 0)
            {
                _notify(new FeedConnectionNotice(FeedConnectionState.Lost, args.Message, _time.GetUtcNow()));
            }

            return ValueTask.CompletedTask;
        }

        private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
        {
            if (Interlocked.Exchange(ref _lost, 0) == 1)
            {
                _notify(new FeedConnectionNotice(FeedConnectionState.Restored, args.Message, _time.GetUtcNow()));
            }

            return ValueTask.CompletedTask;
        }
    }
}
