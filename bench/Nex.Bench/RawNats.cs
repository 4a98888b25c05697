using System.Diagnostics;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Node.Nats;
using Nex.Processes;

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
            _served = Task.WhenAll(ServeEchoAsync(echoSub, _stop.Token), ServeRelayAsync(relaySub, relayInner, outer, InnerSubject, _stop.Token));
        }

        /// <summary>The relay's own second nats-server.</summary>
        public string InnerUrl => _inner.ClientUrl;

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
    private static Task ServeRelayAsync(INatsSub<byte[]> sub, NatsConnection inner, NatsConnection outer, string innerSubject, CancellationToken cancellationToken) => Task.Run(
        async () =>
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    var reply = await inner.RequestAsync<byte[], byte[]>(innerSubject, msg.Data, cancellationToken: cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// The floor again, with its relay and its echo each in a process of its own, as the node and the agent are:
    /// the same two NATS round trips and the same code, but every message now has to wake a thread of another
    /// process, where the in-process floor's are served by the bench's own thread pool, busy (and spinning) with
    /// the caller's calls. Both run with .NET's defaults, as the other references do. Measured in the baseline,
    /// alternated with the floor, and reported beside it, not instead of it: the targets are the issue's.
    /// </summary>
    public sealed class ProcessFloor : IAsyncDisposable
    {
        /// <summary>The subject the relay process serves on the main server.</summary>
        public const string Subject = "bench.raw.relay.processes";

        /// <summary>The first argument that makes nex-bench serve one half of this floor instead of measuring.</summary>
        public const string ServeCommand = "serve-floor";

        private const string InnerSubject = "bench.raw.inner.processes";
        private const string Ready = "ready";

        private readonly Process _relay;
        private readonly Process _echo;

        private ProcessFloor(Process relay, Process echo)
        {
            _relay = relay;
            _echo = echo;
        }

        /// <summary>Starts the echo on <paramref name="innerUrl"/> and the relay to it from <paramref name="mainUrl"/>; returns once both serve.</summary>
        public static async Task<ProcessFloor> StartAsync(string mainUrl, string innerUrl, CancellationToken cancellationToken)
        {
            var echo = await StartPartAsync(["echo", innerUrl, InnerSubject], cancellationToken).ConfigureAwait(false);
            try
            {
                var relay = await StartPartAsync(["relay", mainUrl, innerUrl, Subject, InnerSubject], cancellationToken).ConfigureAwait(false);
                return new ProcessFloor(relay, echo);
            }
            catch
            {
                await StopAsync(echo).ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>
        /// The child's side (<c>nex-bench serve-floor echo URL SUBJECT</c> or <c>serve-floor relay MAIN INNER SUBJECT
        /// INNER-SUBJECT</c>): serves until its standard input closes (the bench ends it, or is gone).
        /// </summary>
        public static async Task<int> ServeAsync(string[] args)
        {
            using var stop = new CancellationTokenSource();
            await using var first = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = args[1], ConnectionName = $"bench-floor-{args[0]}" }, stop.Token).ConfigureAwait(false);
            Task served;
            NatsConnection? second = null;
            INatsSub<byte[]> sub;
            switch (args)
            {
                case ["echo", _, var subject]:
                    sub = await first.SubscribeCoreAsync<byte[]>(subject, cancellationToken: stop.Token).ConfigureAwait(false);
                    served = ServeEchoAsync(sub, stop.Token);
                    break;
                case ["relay", _, var innerUrl, var subject, var innerSubject]:
                    second = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = innerUrl, ConnectionName = "bench-floor-relay-inner" }, stop.Token).ConfigureAwait(false);
                    sub = await first.SubscribeCoreAsync<byte[]>(subject, cancellationToken: stop.Token).ConfigureAwait(false);
                    served = ServeRelayAsync(sub, second, first, innerSubject, stop.Token);
                    break;
                default:
                    await Console.Error.WriteLineAsync($"nex-bench: {ServeCommand} takes echo URL SUBJECT, or relay MAIN-URL INNER-URL SUBJECT INNER-SUBJECT").ConfigureAwait(false);
                    return 2;
            }

            await first.PingAsync(stop.Token).ConfigureAwait(false);
            await Console.Out.WriteLineAsync(Ready).ConfigureAwait(false);
            await Console.Out.FlushAsync(stop.Token).ConfigureAwait(false);
            await Console.In.ReadToEndAsync(stop.Token).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await served.ConfigureAwait(false);
            await sub.DisposeAsync().ConfigureAwait(false);
            if (second is not null)
            {
                await second.DisposeAsync().ConfigureAwait(false);
            }

            return 0;
        }

        /// <inheritdoc />
        public async ValueTask DisposeAsync()
        {
            await StopAsync(_relay).ConfigureAwait(false);
            await StopAsync(_echo).ConfigureAwait(false);
        }

        private static async Task<Process> StartPartAsync(string[] args, CancellationToken cancellationToken)
        {
            var info = new ProcessStartInfo(ChildProcessLauncher.FindOnPath("dotnet") ?? "dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var arg in (string[])[typeof(RawNats).Assembly.Location, ServeCommand, .. args])
            {
                info.ArgumentList.Add(arg);
            }

            var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (line != Ready)
                {
                    throw new InvalidOperationException($"the floor's {args[0]} process did not start (exit: {(process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")})");
                }

                return process;
            }
            catch
            {
                await StopAsync(process).ConfigureAwait(false);
                throw;
            }
        }

        // Closing its standard input ends it; a part that does not end in time is killed.
        private static async Task StopAsync(Process process)
        {
            using (process)
            {
                try
                {
                    process.StandardInput.Close();
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
    }
}
