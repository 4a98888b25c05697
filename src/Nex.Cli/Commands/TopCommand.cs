using System.CommandLine;
using NATS.Client.Core;
using Nex.Client;
using Nex.Protocol;
using Spectre.Console;

namespace Nex.Cli.Commands;

/// <summary>
/// <c>nex top</c>: a live view of the nodes, their workloads and the latest events, refreshed every <c>--interval</c>;
/// one reading (plain tables, or JSON with <c>--json</c>) when stdout is not a terminal.
/// </summary>
internal static class TopCommand
{
    // Kept from the event stream: enough to fill the pane under any namespace filter.
    private const int EventsKept = 200;

    // How often a key press is looked for between refreshes: quick enough to feel instant.
    private static readonly TimeSpan KeyPoll = TimeSpan.FromMilliseconds(50);

    public static Command Create()
    {
        var interval = new Option<string>("--interval") { Description = "time between refreshes, e.g. 1s, 500ms, 5s", DefaultValueFactory = _ => "1s" };
        var top = new Command("top", "A live view of the nodes, their workloads (calls/s, errors, latency, memory, CPU) and the latest events; keys: n namespace, s sort, q quit. Starts in the -n namespace (-n '*' for all); prints one reading when piped or with --json");
        top.Options.Add(interval);
        top.SetAction(async (parse, cancellationToken) =>
        {
            var every = GoDuration.Parse(parse.GetValue(interval)!, "--interval");
            if (every < TimeSpan.FromMilliseconds(100))
            {
                throw new CliException($"invalid --interval: {parse.GetValue(interval)} (at least 100ms)");
            }

            // INFO replies come within milliseconds; a second bounds a refresh unless --timeout says otherwise.
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken, defaultTimeout: TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            var model = new TopModel(session.Client.Options.Namespace);
            var live = !session.Output.Json && Output.IsTerminal && !Console.IsInputRedirected;
            if (live || model.Namespace is null)
            {
                foreach (var ns in await session.Client.ReadRecordedNamespacesAsync(cancellationToken).ConfigureAwait(false))
                {
                    model.Observe(ns);
                }
            }

            if (!live)
            {
                var view = model.Update(await session.Client.ReadTopSnapshotAsync(model.QueryNamespaces, cancellationToken).ConfigureAwait(false));
                if (session.Output.Json)
                {
                    Output.WriteJson(view, TopJsonContext.Default.TopView);
                }
                else
                {
                    TopScreen.WritePlain(view);
                }

                return 0;
            }

            try
            {
                await RunLiveAsync(session.Client, model, every, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C: as q.
            }

            return 0;
        });
        return top;
    }

    private static async Task RunLiveAsync(NexClient client, TopModel model, TimeSpan every, CancellationToken cancellationToken)
    {
        var events = new RecentEvents();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpEventsAsync(client, events, stop.Token);
        var console = AnsiConsole.Console;

        // The alternate screen, as htop: the shell's scrollback comes back untouched on exit.
        console.Write(new ControlCode("\u001b[?1049h\u001b[H"));
        try
        {
            await console.Live(new Text(""))
                .AutoClear(false)
                .Overflow(VerticalOverflow.Ellipsis)
                .Cropping(VerticalOverflowCropping.Bottom)
                .StartAsync(async ctx =>
                {
                    var view = model.View();
                    string? trouble = null;
                    void Draw()
                    {
                        // The connection's own state first: while NATS.Net reconnects, readings just come back empty.
                        var status = client.Connection.ConnectionState == NatsConnectionState.Open ? trouble : "not connected to NATS; reconnecting…";
                        ctx.UpdateTarget(TopScreen.Render(view, events.Lines(view.Namespace), console.Profile.Width, console.Profile.Height, status));
                        ctx.Refresh();
                    }

                    while (true)
                    {
                        // While NATS.Net reconnects a request waits for the connection: no reading then, so the screen
                        // says so and keys still work. A reading is bounded too, in case the connection drops during it.
                        if (client.Connection.ConnectionState == NatsConnectionState.Open)
                        {
                            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                            bounded.CancelAfter((client.Options.Timeout * 2) + TimeSpan.FromSeconds(1));
                            try
                            {
                                var snapshot = await client.ReadTopSnapshotAsync(model.QueryNamespaces, bounded.Token).ConfigureAwait(false);
                                foreach (var ns in events.TakeNewNamespaces())
                                {
                                    model.Observe(ns);
                                }

                                view = model.Update(snapshot);
                                trouble = null;
                            }
                            catch (NatsException ex)
                            {
                                trouble = $"reading failed: {ex.Message}; retrying"; // the last reading stays on screen
                            }
                            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                            {
                                trouble = "no reading within the time allowed; retrying";
                            }
                        }

                        Draw();
                        var due = TimeProvider.System.GetUtcNow() + every;
                        var refetch = false;
                        while (!refetch && TimeProvider.System.GetUtcNow() < due)
                        {
                            while (!refetch && Console.KeyAvailable)
                            {
                                switch (char.ToLowerInvariant(Console.ReadKey(intercept: true).KeyChar))
                                {
                                    case 'q':
                                        return;
                                    case 'n':
                                        // Another namespace's workloads were not asked for: read again now.
                                        model.CycleNamespace();
                                        refetch = true;
                                        break;
                                    case 's':
                                        model.CycleSort();
                                        view = model.View();
                                        Draw();
                                        break;
                                }
                            }

                            if (!refetch)
                            {
                                await Task.Delay(KeyPoll, stop.Token).ConfigureAwait(false);
                            }
                        }
                    }
                }).ConfigureAwait(false);
        }
        finally
        {
            console.Write(new ControlCode("\u001b[?1049l\u001b[?1l\u001b>")); // and the keypad mode .NET turned on to read keys
            await stop.CancelAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
        }
    }

    // Owned by RunLiveAsync: ends when it is stopped, or quietly when the feed fails (the pane then shows what came).
    private static async Task PumpEventsAsync(NexClient client, RecentEvents events, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in client.WatchEventsAsync("*", cancellationToken).ConfigureAwait(false))
            {
                events.Add(message);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        catch (NatsException)
        {
            // The connection is gone; the next reading reports it.
        }
    }

    /// <summary>The latest events, written by the event pump and read by the screen loop.</summary>
    private sealed class RecentEvents
    {
        private readonly Lock _lock = new();
        private readonly Queue<TopEventLine> _lines = new();
        private readonly HashSet<string> _newNamespaces = new(StringComparer.Ordinal);

        public void Add(NexEventMessage message)
        {
            // Heartbeats say what the nodes table shows already, every few seconds per node: they would push everything else out.
            if (message.Type == EventTypes.Heartbeat)
            {
                return;
            }

            var line = new TopEventLine(message.Event?.Time ?? DateTimeOffset.UtcNow, message.Namespace, message.Type, EventText.Describe(message));
            lock (_lock)
            {
                _lines.Enqueue(line);
                while (_lines.Count > EventsKept)
                {
                    _lines.Dequeue();
                }

                _newNamespaces.Add(message.Namespace);
            }
        }

        /// <summary>The namespaces seen in events since the last call.</summary>
        public List<string> TakeNewNamespaces()
        {
            lock (_lock)
            {
                var list = _newNamespaces.ToList();
                _newNamespaces.Clear();
                return list;
            }
        }

        /// <summary>The latest lines of the namespace shown (all when null), with the nodes' own events.</summary>
        public List<TopEventLine> Lines(string? ns)
        {
            lock (_lock)
            {
                return _lines
                    .Where(l => ns is null || l.Namespace == NexSubjects.SystemNamespace || string.Equals(l.Namespace, ns, StringComparison.OrdinalIgnoreCase))
                    .TakeLast(TopScreen.EventRows)
                    .ToList();
            }
        }
    }
}
