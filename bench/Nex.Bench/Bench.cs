using System.Diagnostics;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Node.Nats;

namespace Nex.Bench;

/// <summary>
/// One benchmark run: its own nats-server, raw NATS as the baseline, then real nodes (separate
/// processes) measured through the same client connection, so every figure is comparable to the
/// baseline taken minutes earlier on the same machine.
/// </summary>
internal sealed class Bench
{
    private readonly BenchSettings _settings;
    private readonly string _examples;
    private readonly Action<string> _progress;
    private readonly byte[] _payload;
    private string _natsUrl = "";
    private int _mainNatsPid;

    /// <summary>Blocks of each series when a lane is measured beside its references.</summary>
    private const int PairedBlocks = 10;

    /// <summary>The concurrency at which the CPU per call is read.</summary>
    internal const int CpuCallers = 8;

    public Bench(BenchSettings settings, string examplesDirectory, Action<string> progress)
    {
        _settings = settings;
        _examples = examplesDirectory;
        _progress = progress;
        _payload = new byte[settings.PayloadBytes];
        "hello from the nex benchmark, 0123456789"u8[..Math.Min(settings.PayloadBytes, 40)].CopyTo(_payload);
    }

    private BenchNodeSettings NodeSettings => _settings.NodeDirectory is { } dir ? new BenchNodeSettings { NodeDirectory = dir } : new BenchNodeSettings();

    private string V8Echo => Path.Combine(_examples, "js", "echo.js");

    private string WasmEcho => Path.Combine(_examples, "wasm", "echo", "build", "echo.wasm");

    private string EchoService => Path.Combine(_examples, "echoservice", "build", "echoservice");

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        foreach (var artifact in new[] { V8Echo, WasmEcho, EchoService })
        {
            if (!File.Exists(artifact))
            {
                throw new BenchException($"{artifact} is missing; build the examples with examples/build.sh (bench/run does)");
            }
        }

        var report = new BenchReport { Machine = await MachineProbe.ReadAsync(NodeSettings.NodeDirectory, cancellationToken).ConfigureAwait(false), Settings = _settings, Started = DateTimeOffset.UtcNow };
        var wall = Stopwatch.StartNew();
        var keyHome = Directory.CreateTempSubdirectory("nex-bench-keys-").FullName;
        try
        {
            await using var nats = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: cancellationToken).ConfigureAwait(false);
            _natsUrl = nats.ClientUrl;
            _mainNatsPid = nats.ProcessId;
            await using var caller = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.ClientUrl, ConnectionName = "bench-caller" }, cancellationToken).ConfigureAwait(false);
            var client = new NexClient(caller, new NexClientOptions { Timeout = TimeSpan.FromSeconds(30) });
            using var workloads = new Workloads(client, keyHome);
            foreach (var artifact in new[] { V8Echo, WasmEcho, EchoService })
            {
                await workloads.UploadAsync(artifact, cancellationToken).ConfigureAwait(false);
            }

            _progress("baseline: raw NATS request/reply");
            report.Baseline = await BaselineAsync(nats.ClientUrl, caller, cancellationToken).ConfigureAwait(false);
            await using var references = await RawNats.References.StartAsync(nats.ClientUrl, cancellationToken).ConfigureAwait(false);

            foreach (var driver in _settings.Drivers ?? SandboxDrivers.Available(NodeSettings.NodeDirectory))
            {
                var result = new DriverResult(driver);
                report.Drivers.Add(result);
                await Step(report, $"node ({driver})", async () =>
                {
                    await using var node = await BenchNode.StartAsync(nats.ClientUrl, client, NodeSettings with { Sandbox = driver }, cancellationToken).ConfigureAwait(false);
                    foreach (var lane in _settings.FunctionLanes)
                    {
                        await Step(report, $"{lane} echo ({driver})", async () => result.Functions.Add(await FunctionAsync(node, workloads, caller, lane, lane == "wasm" ? WasmEcho : V8Echo, cancellationToken).ConfigureAwait(false))).ConfigureAwait(false);
                    }

                    if (_settings.FunctionsOnly)
                    {
                        return;
                    }

                    await Step(report, $"native deploy ({driver})", async () => result.Deploy = await DeployAsync(node, workloads, caller, driver, report.Baseline, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
                    if (driver == report.Drivers[0].Driver)
                    {
                        report.Footprint = new FootprintResult();
                        await Step(report, $"control plane and footprint ({driver})", () => ControlPlaneAsync(node, workloads, client, report, cancellationToken)).ConfigureAwait(false);
                    }
                }).ConfigureAwait(false);
            }

            if (!_settings.FunctionsOnly)
            {
                await Step(report, "pool fill", async () => report.Footprint = await PoolFillAsync(nats.ClientUrl, client, report.Footprint ?? new FootprintResult(), cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            }
        }
        finally
        {
            Directory.Delete(keyHome, recursive: true);
        }

        report.DurationSeconds = wall.Elapsed.TotalSeconds;
        Targets.Evaluate(report);
        return report;
    }

    private async Task Step(BenchReport report, string name, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BenchException or NexClientException or NatsException or TimeoutException or InvalidOperationException)
        {
            report.Errors.Add($"{name}: {ex.Message}");
            _progress($"  failed: {name}: {ex.Message}");
        }
    }

    private async Task<BaselineResult> BaselineAsync(string url, NatsConnection caller, CancellationToken cancellationToken)
    {
        await using var responder = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = url, ConnectionName = "bench-responder" }, cancellationToken).ConfigureAwait(false);
        await using var sub = await responder.SubscribeCoreAsync<byte[]>("bench.raw.echo", cancellationToken: cancellationToken).ConfigureAwait(false);
        var serve = RawNats.ServeEchoAsync(sub, cancellationToken);
        await caller.PingAsync(cancellationToken).ConfigureAwait(false);
        await responder.PingAsync(cancellationToken).ConfigureAwait(false);

        var call = Call(caller, "bench.raw.echo");
        var sequential = await Measure.SequentialAsync(_settings.Warmup, TimeSpan.FromSeconds(_settings.WarmupSeconds), _settings.Samples, call, cancellationToken).ConfigureAwait(false);
        var afterIdle = await Measure.AfterIdleAsync(TimeSpan.FromMilliseconds(_settings.IdleGapMs), _settings.IdleSamples, call, cancellationToken).ConfigureAwait(false);
        var concurrent = new List<ConcurrentStats>();
        foreach (var callers in _settings.CallerCounts)
        {
            concurrent.Add(await Measure.ConcurrentAsync(callers, TimeSpan.FromSeconds(_settings.ConcurrentSeconds), call, cancellationToken).ConfigureAwait(false));
        }

        await sub.UnsubscribeAsync().ConfigureAwait(false);
        await serve.ConfigureAwait(false);
        _progress("raw NATS relayed once (the function path's floor), in process and in processes of their own");
        await using var relay = await RawNats.Relay.StartAsync(url, cancellationToken).ConfigureAwait(false);
        await using var processFloor = await RawNats.ProcessFloor.StartAsync(url, relay.InnerUrl, cancellationToken).ConfigureAwait(false);

        // Here and not beside each lane: a fourth series in a lane's alternated blocks spaced that lane's own
        // blocks further apart, and the first calls after each gap raised V8's p99 (2.8–3.1 → 3.2–3.8 ms).
        var floors = await Measure.InterleavedAsync(
            _settings.Warmup,
            TimeSpan.FromSeconds(_settings.WarmupSeconds),
            _settings.Samples,
            PairedBlocks,
            [Call(caller, RawNats.RelaySubject), Call(caller, RawNats.ProcessFloor.Subject)],
            cancellationToken).ConfigureAwait(false);
        return new BaselineResult(sequential, afterIdle, concurrent) { Relayed = floors[0], RelayedInProcesses = floors[1] };
    }

    private async Task<FunctionResult> FunctionAsync(BenchNode node, Workloads workloads, NatsConnection caller, string kind, string path, CancellationToken cancellationToken)
    {
        _progress($"{kind} echo function");
        var subject = $"bench.fn.{kind}";
        var workload = await workloads.DeployAsync(node, path, $"bench-{kind}-echo", argv: null, triggers: [subject], cancellationToken, reuseContext: kind == "v8-reuse").ConfigureAwait(false);
        try
        {
            var call = Call(caller, subject);
            // The lane, the floor and the raw round trip, in alternating blocks: compared within the same minutes.
            var series = await Measure.InterleavedAsync(
                _settings.Warmup,
                TimeSpan.FromSeconds(_settings.WarmupSeconds),
                _settings.Samples,
                PairedBlocks,
                [call, Call(caller, RawNats.RelaySubject), Call(caller, RawNats.References.EchoSubject)],
                cancellationToken).ConfigureAwait(false);
            var (sequential, floor, rtt) = (series[0], series[1], series[2]);
            var engine = await EngineTimeAsync(workload.Name, call, cancellationToken).ConfigureAwait(false);
            var concurrent = new List<ConcurrentStats>();
            CpuSample? cpu = null;
            foreach (var callers in _settings.CallerCounts)
            {
                // What each call costs in CPU, by process, with 8 callers (the throughput target's load): once the
                // machine is saturated, this is what sets the calls per second.
                var before = Procfs.Cpu(Environment.ProcessId, _mainNatsPid, node.Pid);
                var stats = await Measure.ConcurrentAsync(callers, TimeSpan.FromSeconds(_settings.ConcurrentSeconds), call, cancellationToken).ConfigureAwait(false);
                if (callers == CpuCallers)
                {
                    cpu = CpuSample.PerCall(before, Procfs.Cpu(Environment.ProcessId, _mainNatsPid, node.Pid), stats.Latency.Count);
                }

                concurrent.Add(stats);
            }

            return new FunctionResult(kind, sequential, rtt.P50Us > 0 ? sequential.P50Us / rtt.P50Us : 0, concurrent)
            {
                EngineP50Us = engine.P50Us, EngineP99Us = engine.P99Us, CpuPerCallUs = cpu, PairedRtt = rtt, PairedFloor = floor,
            };
        }
        finally
        {
            await workloads.StopAsync(workload, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The engine's own time per call, as the node reports it (function_exec_succeeded), over a pass of its own:
    /// reading those events costs the bench CPU on every call, which would land in the latencies measured
    /// alongside. Read on a connection of its own so the watcher does not share the caller's socket.
    /// </summary>
    private async Task<LatencyStats> EngineTimeAsync(string workloadName, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        var engineNanos = new List<long>();
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var watcherConnection = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = _natsUrl, ConnectionName = "bench-events" }, cancellationToken).ConfigureAwait(false);
        var watcher = WatchEngineTimeAsync(new NexClient(watcherConnection), workloadName, engineNanos, watching.Token);
        await watcherConnection.PingAsync(cancellationToken).ConfigureAwait(false);
        await Measure.WarmUpAsync(Math.Min(_settings.Samples, 1000), TimeSpan.Zero, call, cancellationToken).ConfigureAwait(false);
        await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        await watching.CancelAsync().ConfigureAwait(false);
        await watcher.ConfigureAwait(false);
        return LatencyStats.From(engineNanos.Select(n => n * Stopwatch.Frequency / 1_000_000_000).ToList(), TimeSpan.Zero);
    }

    private static async Task WatchEngineTimeAsync(NexClient client, string name, List<long> nanos, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in client.WatchEventsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (e.Type == Nex.Protocol.EventTypes.FunctionExecSucceeded && e.Event is { } cloudEvent
                    && cloudEvent.Data.Deserialize(Nex.Protocol.NexJson.Context.FunctionExecSucceededEvent) is { } data && data.WorkloadName == name)
                {
                    nanos.Add(data.ElapsedNanos);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<DeployResult> DeployAsync(BenchNode node, Workloads workloads, NatsConnection caller, string driver, BaselineResult? baseline, CancellationToken cancellationToken)
    {
        _progress("native deploy: warm pool, empty pool, stop");
        var warmRun = new List<long>();
        var warmFirst = new List<long>();
        var coldRun = new List<long>();
        var coldFirst = new List<long>();
        var stops = new List<long>();
        var answerTimeout = TimeSpan.FromSeconds(30);
        for (var i = 0; i < _settings.DeployRuns; i++)
        {
            // Warm: one agent waits in the pool.
            await node.WaitIdleAgentsAsync(1, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            var subject = $"bench.svc.{driver}.warm{i}";
            var coldSubject = $"bench.svc.{driver}.cold{i}";
            var warmRequest = workloads.BuildDeploy(node, EchoService, $"bench-warm-{i}", [subject], null);
            var coldRequest = workloads.BuildDeploy(node, EchoService, $"bench-cold-{i}", [coldSubject], null);
            var start = Stopwatch.GetTimestamp();
            var warm = await workloads.SendAsync(node, warmRequest, cancellationToken).ConfigureAwait(false);
            warmRun.Add(Stopwatch.GetTimestamp() - start);
            await Workloads.WaitAnsweringAsync(caller, subject, answerTimeout, cancellationToken).ConfigureAwait(false);
            warmFirst.Add(Stopwatch.GetTimestamp() - start);

            // Cold: the pool's only agent was just taken and its replacement is starting; a deploy now
            // waits for an agent to start and hand-shake, which is what an empty pool costs.
            start = Stopwatch.GetTimestamp();
            var cold = await workloads.SendAsync(node, coldRequest, cancellationToken).ConfigureAwait(false);
            coldRun.Add(Stopwatch.GetTimestamp() - start);
            await Workloads.WaitAnsweringAsync(caller, coldSubject, answerTimeout, cancellationToken).ConfigureAwait(false);
            coldFirst.Add(Stopwatch.GetTimestamp() - start);

            foreach (var workload in new[] { warm, cold })
            {
                var request = await workloads.BuildStopAsync(workload, cancellationToken).ConfigureAwait(false);
                start = Stopwatch.GetTimestamp();
                await workloads.StopAsync(workload, request, cancellationToken).ConfigureAwait(false);
                stops.Add(Stopwatch.GetTimestamp() - start);
            }
        }

        var warmStats = LatencyStats.From(warmRun, TimeSpan.Zero);
        return new DeployResult(
            warmStats,
            LatencyStats.From(warmFirst, TimeSpan.Zero),
            LatencyStats.From(coldRun, TimeSpan.Zero),
            LatencyStats.From(coldFirst, TimeSpan.Zero),
            LatencyStats.From(stops, TimeSpan.Zero),
            Ratio(warmStats.P50Us, baseline));
    }

    private async Task ControlPlaneAsync(BenchNode node, Workloads workloads, NexClient client, BenchReport report, CancellationToken cancellationToken)
    {
        var footprint = report.Footprint!;
        var live = new List<DeployedWorkload>();
        try
        {
            double? baselineTotal = null;
            foreach (var count in _settings.WorkloadCounts.Order())
            {
                _progress($"control plane with {count} live workloads");
                var deployAll = Stopwatch.StartNew();
                while (live.Count < count)
                {
                    var i = live.Count;
                    live.Add(await workloads.DeployAsync(node, EchoService, $"bench-live-{i}", [$"bench.live.{i}"], null, cancellationToken).ConfigureAwait(false));
                }

                var deploySeconds = deployAll.Elapsed.TotalSeconds;

                // Let the last services start and the pool refill, so memory is read at rest.
                await node.WaitIdleAgentsAsync(1, TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(_settings.IsSmoke ? 0.2 : 2), cancellationToken).ConfigureAwait(false);

                var ping = await Measure.SequentialAsync(10, TimeSpan.Zero, _settings.ControlSamples, async ct => await client.PingNodeAsync(node.NodeId, ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                var info = await Measure.SequentialAsync(10, TimeSpan.Zero, _settings.ControlSamples, async ct =>
                {
                    var reply = await client.InfoAsync(node.NodeId, ct).ConfigureAwait(false);
                    if (reply.Machines.Count != count)
                    {
                        throw new BenchException($"INFO listed {reply.Machines.Count} workloads, not {count}");
                    }
                }, cancellationToken).ConfigureAwait(false);
                report.ControlPlane.Add(new ControlPlaneResult(count, ping, info));

                var processes = node.Processes();
                var nodeRss = Procfs.RssKiB(node.Pid) / 1024.0;
                var agents = processes.Where(p => p.Role == ProcessRole.Agent).Sum(p => p.RssKiB) / 1024.0;
                var services = processes.Where(p => p.Role == ProcessRole.Workload).Sum(p => p.RssKiB) / 1024.0;
                var internalNats = processes.Where(p => p.Role == ProcessRole.InternalNats).Sum(p => p.RssKiB) / 1024.0;
                var total = nodeRss + agents + services + internalNats;
                baselineTotal ??= total;
                footprint.PerWorkload.Add(new WorkloadCost(count, total, count == 0 ? 0 : (total - baselineTotal.Value) / count, nodeRss, agents, services, internalNats, deploySeconds));
                if (count == 0)
                {
                    // `with` keeps the same PerWorkload list.
                    report.Footprint = footprint = footprint with { NodeRssMiB = nodeRss, InternalNatsRssMiB = internalNats };
                }
            }
        }
        finally
        {
            _progress($"stopping {live.Count} workloads");
            foreach (var batch in live.Chunk(16))
            {
                await Task.WhenAll(batch.Select(w => workloads.StopAsync(w, cancellationToken))).ConfigureAwait(false);
            }
        }
    }

    private async Task<FootprintResult> PoolFillAsync(string url, NexClient client, FootprintResult footprint, CancellationToken cancellationToken)
    {
        _progress($"pool of {_settings.PoolFill}: fill time and idle agents");
        var settings = NodeSettings with { PoolSize = _settings.PoolFill, LogLevel = "debug" };
        await using var node = await BenchNode.StartAsync(url, client, settings, cancellationToken).ConfigureAwait(false);
        var ready = Stopwatch.GetTimestamp();
        await node.WaitWarmAsync(_settings.PoolFill, TimeSpan.FromSeconds(180), cancellationToken).ConfigureAwait(false);
        var last = node.WarmAt[_settings.PoolFill - 1];
        await Task.Delay(TimeSpan.FromSeconds(_settings.IsSmoke ? 0.2 : 2), cancellationToken).ConfigureAwait(false);
        var agents = node.Processes().Where(p => p.Role == ProcessRole.Agent).Select(p => p.RssKiB / 1024.0).ToList();
        return footprint with
        {
            PoolSize = _settings.PoolFill,
            PoolFillFromStartSeconds = (last - node.StartedAt) / (double)Stopwatch.Frequency,
            PoolFillFromReadySeconds = Math.Max(0, (last - ready) / (double)Stopwatch.Frequency),
            IdleAgentRssMiB = agents.Count == 0 ? 0 : agents.Average(),
            IdleAgentRssMaxMiB = agents.Count == 0 ? 0 : agents.Max(),
        };
    }

    private Func<CancellationToken, Task> Call(NatsConnection connection, string subject)
    {
        var opts = new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) };
        return async cancellationToken =>
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(subject, _payload, replyOpts: opts, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (reply.HasNoResponders || reply.Data is not { Length: > 0 })
            {
                throw new BenchException($"{subject} answered {(reply.HasNoResponders ? "no responders" : "an empty reply")}");
            }
        };
    }

    private static double Ratio(double value, BaselineResult? baseline) =>
        baseline is { Sequential.P50Us: > 0 } b ? value / b.Sequential.P50Us : 0;
}
