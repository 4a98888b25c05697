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
        await using var inner = await NatsServerProcess.StartAsync(new NatsServerOptions(), cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var outer = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = mainUrl, ConnectionName = "bench-relay" }, cancellationToken).ConfigureAwait(false);
        await using var relayInner = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = inner.ClientUrl, ConnectionName = "bench-relay-inner" }, cancellationToken).ConfigureAwait(false);
        await using var responder = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = inner.ClientUrl, ConnectionName = "bench-relay-echo" }, cancellationToken).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var echoSub = await responder.SubscribeCoreAsync<byte[]>(InnerSubject, cancellationToken: cancellationToken).ConfigureAwait(false);
        var relaySub = await outer.SubscribeCoreAsync<byte[]>(RelaySubject, cancellationToken: cancellationToken).ConfigureAwait(false);
        var echo = ServeEchoAsync(echoSub, stop.Token);
        var relay = ServeRelayAsync(relaySub, relayInner, outer, stop.Token);
        try
        {
            await responder.PingAsync(cancellationToken).ConfigureAwait(false);
            await outer.PingAsync(cancellationToken).ConfigureAwait(false);
            return await measure().ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(echo, relay).ConfigureAwait(false);
            await relaySub.DisposeAsync().ConfigureAwait(false);
            await echoSub.DisposeAsync().ConfigureAwait(false);
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
}
