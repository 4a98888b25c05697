using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Node.Nats;

namespace Nex.Bench;

/// <summary>
/// The raw NATS references: an echo responder (the baseline's other end), and the floor of the function path's
/// design, a raw request relayed once the way the node relays a trigger to its agent: main NATS → a relaying
/// connection → a second nats-server → an echo responder, and back, with no node, agent or engine in it. That is
/// two NATS round trips and a .NET hop in the middle; what a function call costs above it is the node's, the
/// agent's and the engine's.
/// </summary>
internal static class RawNats
{
    /// <summary>The subject the relay serves on the main server.</summary>
    public const string RelaySubject = "bench.raw.relay";

    private const string InnerSubject = "bench.raw.inner";

    /// <summary>Answers every request on <paramref name="sub"/> with its own payload until cancelled or unsubscribed.</summary>
    public static Task ServeEchoAsync(INatsSub<byte[]> sub, CancellationToken cancellationToken) => Task.Run(
        async () =>
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    await msg.ReplyAsync(msg.Data, cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }
        },
        CancellationToken.None);

    /// <summary>
    /// Runs the relay (its own second nats-server and three connections) while <paramref name="measure"/> calls
    /// <see cref="RelaySubject"/> on the main server at <paramref name="mainUrl"/>.
    /// </summary>
    public static async Task<T> WithRelayAsync<T>(string mainUrl, Func<Task<T>> measure, CancellationToken cancellationToken)
    {
        await using var relay = await Relay.StartAsync(mainUrl, cancellationToken).ConfigureAwait(false);
        return await measure().ConfigureAwait(false);
    }

    /// <summary>
    /// The relay, up until disposed: its own second nats-server, a connection to each server, and the echo
    /// responder behind it. Kept up for the whole run, so the floor can be measured beside each function lane.
    /// </summary>
    public sealed class Relay : IAsyncDisposable
    {
        private readonly NatsServerProcess _inner;
        private readonly NatsConnection _outer;
        private readonly NatsConnection _relayInner;
        private readonly NatsConnection _responder;
        private readonly CancellationTokenSource _stop;
        private readonly INatsSub<byte[]> _echoSub;
        private readonly INatsSub<byte[]> _relaySub;
        private readonly Task _served;

        private Relay(NatsServerProcess inner, NatsConnection outer, NatsConnection relayInner, NatsConnection responder, INatsSub<byte[]> echoSub, INatsSub<byte[]> relaySub)
        {
            _inner = inner;
            _outer = outer;
            _relayInner = relayInner;
            _responder = responder;
            _echoSub = echoSub;
            _relaySub = relaySub;
            _stop = new CancellationTokenSource();
            _served = Task.WhenAll(ServeEchoAsync(echoSub, _stop.Token), ServeRelayAsync(relaySub, relayInner, outer, _stop.Token));
        }

        /// <summary>Starts the relay serving <see cref="RelaySubject"/> on the main server at <paramref name="mainUrl"/>.</summary>
        public static async Task<Relay> StartAsync(string mainUrl, CancellationToken cancellationToken)
        {
            var inner = await NatsServerProcess.StartAsync(new NatsServerOptions(), cancellationToken: cancellationToken).ConfigureAwait(false);
            var outer = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = mainUrl, ConnectionName = "bench-relay" }, cancellationToken).ConfigureAwait(false);
            var relayInner = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = inner.ClientUrl, ConnectionName = "bench-relay-inner" }, cancellationToken).ConfigureAwait(false);
            var responder = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = inner.ClientUrl, ConnectionName = "bench-relay-echo" }, cancellationToken).ConfigureAwait(false);
            var echoSub = await responder.SubscribeCoreAsync<byte[]>(InnerSubject, cancellationToken: cancellationToken).ConfigureAwait(false);
            var relaySub = await outer.SubscribeCoreAsync<byte[]>(RelaySubject, cancellationToken: cancellationToken).ConfigureAwait(false);
            var relay = new Relay(inner, outer, relayInner, responder, echoSub, relaySub);
            await responder.PingAsync(cancellationToken).ConfigureAwait(false);
            await outer.PingAsync(cancellationToken).ConfigureAwait(false);
            return relay;
        }

        /// <inheritdoc />
        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _served.ConfigureAwait(false);
            await _relaySub.DisposeAsync().ConfigureAwait(false);
            await _echoSub.DisposeAsync().ConfigureAwait(false);
            await _responder.DisposeAsync().ConfigureAwait(false);
            await _relayInner.DisposeAsync().ConfigureAwait(false);
            await _outer.DisposeAsync().ConfigureAwait(false);
            await _inner.DisposeAsync().ConfigureAwait(false);
            _stop.Dispose();
        }
    }

    // As the node relays a trigger: the message in, a request on the other server, its reply out.
    private static Task ServeRelayAsync(INatsSub<byte[]> sub, NatsConnection inner, NatsConnection outer, CancellationToken cancellationToken) => Task.Run(
        async () =>
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    var reply = await inner.RequestAsync<byte[], byte[]>(InnerSubject, msg.Data, cancellationToken: cancellationToken).ConfigureAwait(false);
                    if (!string.IsNullOrEmpty(msg.ReplyTo))
                    {
                        await outer.PublishAsync(msg.ReplyTo, reply.Data, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        },
        CancellationToken.None);

    /// <summary>
    /// The references a function lane is measured beside: a raw echo responder on the main server (the round trip)
    /// and the relay (the floor), up for the whole run.
    /// </summary>
    public sealed class References : IAsyncDisposable
    {
        /// <summary>The subject of the raw echo (its own, so the baseline's responder never answers it too).</summary>
        public const string EchoSubject = "bench.raw.echo.paired";

        private readonly NatsConnection _responder;
        private readonly INatsSub<byte[]> _sub;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _served;
        private readonly Relay _relay;

        private References(NatsConnection responder, INatsSub<byte[]> sub, Relay relay)
        {
            _responder = responder;
            _sub = sub;
            _relay = relay;
            _served = ServeEchoAsync(sub, _stop.Token);
        }

        /// <summary>Starts both on the main server at <paramref name="mainUrl"/>.</summary>
        public static async Task<References> StartAsync(string mainUrl, CancellationToken cancellationToken)
        {
            var relay = await Relay.StartAsync(mainUrl, cancellationToken).ConfigureAwait(false);
            var responder = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = mainUrl, ConnectionName = "bench-responder-paired" }, cancellationToken).ConfigureAwait(false);
            var sub = await responder.SubscribeCoreAsync<byte[]>(EchoSubject, cancellationToken: cancellationToken).ConfigureAwait(false);
            await responder.PingAsync(cancellationToken).ConfigureAwait(false);
            return new References(responder, sub, relay);
        }

        /// <inheritdoc />
        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _served.ConfigureAwait(false);
            await _sub.DisposeAsync().ConfigureAwait(false);
            await _responder.DisposeAsync().ConfigureAwait(false);
            await _relay.DisposeAsync().ConfigureAwait(false);
            _stop.Dispose();
        }
    }
}
