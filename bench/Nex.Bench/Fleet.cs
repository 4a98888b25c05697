using System.Diagnostics;
using System.Text.Json.Nodes;
using NATS.Client.Core;
using NATS.NKeys;
using Nex.Client;
using Nex.Nats;
using Nex.Processes;
using Nex.Protocol;
using Nex.Testing;

namespace Nex.Bench;

/// <summary>What <c>bench/run --fleet</c> measures, and with which fleet timings.</summary>
internal sealed record FleetSettings
{
    /// <summary>Nodes of the fleet (each its own <c>nex node up</c> process on the 3-server cluster).</summary>
    public int Nodes { get; init; } = 3;

    /// <summary>Services placed one by one without <c>--node</c>, to see how they spread.</summary>
    public int Placements { get; init; } = 12;

    /// <summary>kill -9 rounds: kill the node that runs the service, time its first answer from another node.</summary>
    public int Rounds { get; init; } = 5;

    /// <summary>The nodes' <c>fleet.heartbeat_ms</c>.</summary>
    public int HeartbeatMs { get; init; } = 2_000;

    /// <summary>The nodes' <c>fleet.lease_grace_ms</c>.</summary>
    public int LeaseGraceMs { get; init; } = 10_000;

    /// <summary>Longest wait for the service to answer again after a kill; longer counts as lost.</summary>
    public TimeSpan AnswerWindow { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>One kill -9 round.</summary>
internal sealed record FleetRound(int Round, string KilledNode, double SecondsToAnswer, string? AnsweredFrom, int CopiesAfter, int RecordsAfter, string? Problem);

/// <summary>What <c>bench/run --fleet</c> found.</summary>
internal sealed record FleetReport
{
    public FleetSettings Settings { get; init; } = new();

    public double DurationSeconds { get; set; }

    /// <summary>Services per node after <see cref="FleetSettings.Placements"/> placements (node name → count).</summary>
    public Dictionary<string, int> Spread { get; init; } = [];

    /// <summary>Copies per node of one <c>--replicas</c> deploy with as many copies as nodes.</summary>
    public Dictionary<string, int> ReplicaSpread { get; init; } = [];

    public List<FleetRound> Rounds { get; init; } = [];

    /// <summary>Rounds where nothing answered within the window.</summary>
    public int Lost => Rounds.Count(r => r.SecondsToAnswer < 0);

    /// <summary>Rounds after which more than one copy ran, or more than one record was kept.</summary>
    public int Doubled => Rounds.Count(r => r.CopiesAfter > 1 || r.RecordsAfter > 1);

    public List<string> Errors { get; init; } = [];
}

/// <summary>
/// <c>bench/run --fleet</c>: a real 3-server NATS cluster, <see cref="FleetSettings.Nodes"/> nodes as processes sharing
/// one nexus xkey, and two questions: how do placements spread, and how long after a kill -9 of the node that runs an
/// essential service does the service answer again from another node. After each round the killed node comes back
/// with its identity; the round counts a lost workload (no answer within the window) or a doubled one (two copies or
/// two records once settled).
/// </summary>
internal sealed class Fleet(FleetSettings settings, string examples, string? nodeDirectory, Action<string> progress)
{
    private const string ServiceSubject = "fleet.svc";
    private const string ServiceName = "fleetsvc";
    private readonly string _echoService = Path.Combine(examples, "echoservice", "build", "echoservice");

    public async Task<FleetReport> RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var report = new FleetReport { Settings = settings };
        progress("fleet: starting a 3-server NATS cluster…");
        await using var cluster = await NatsClusterFixture.StartAsync(cancellationToken).ConfigureAwait(false);
        using var dir = new TempDirectory("nex-bench-fleet-");
        await using var caller = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = cluster.Urls }, cancellationToken).ConfigureAwait(false);
        var client = new NexClient(caller, new NexClientOptions { Timeout = TimeSpan.FromSeconds(2) });
        using var workloads = new Workloads(client, dir.Path);
        await workloads.UploadAsync(_echoService, cancellationToken).ConfigureAwait(false);

        // One nexus xkey for all nodes (so any node opens any environment); one identity per node slot.
        var xkeySeed = dir.File("nexus.xk");
        using (var xkey = KeyPair.CreatePair(PrefixByte.Curve))
        {
            await File.WriteAllTextAsync(xkeySeed, xkey.GetSeed(), cancellationToken).ConfigureAwait(false);
        }

        var slots = new BenchNodeSettings[settings.Nodes];
        for (var i = 0; i < slots.Length; i++)
        {
            var seed = dir.File($"node{i}.nk");
            using (var key = KeyPair.CreatePair(PrefixByte.Server))
            {
                await File.WriteAllTextAsync(seed, key.GetSeed(), cancellationToken).ConfigureAwait(false);
            }

            slots[i] = new BenchNodeSettings
            {
                Name = $"fleet-{i}",
                PoolSize = 2,
                NodeDirectory = nodeDirectory ?? AppContext.BaseDirectory,
                ExtraConfig = new Dictionary<string, JsonNode?>
                {
                    ["node_seed_file"] = seed,
                    ["xkey_seed_file"] = xkeySeed,
                    ["workload_types"] = new JsonArray("native"),
                    ["fleet"] = new JsonObject { ["heartbeat_ms"] = settings.HeartbeatMs, ["lease_grace_ms"] = settings.LeaseGraceMs },
                },
            };
        }

        var nodes = new BenchNode?[slots.Length];
        try
        {
            progress($"fleet: starting {slots.Length} nodes…");
            for (var i = 0; i < slots.Length; i++)
            {
                nodes[i] = await BenchNode.StartAsync(cluster.Urls, client, slots[i], cancellationToken).ConfigureAwait(false);
            }

            await PlaceAsync(client, workloads, nodes, report, cancellationToken).ConfigureAwait(false);
            await KillRoundsAsync(caller, client, workloads, slots, nodes, cluster.Urls, report, cancellationToken).ConfigureAwait(false);
        }
        catch (BenchException ex)
        {
            report.Errors.Add(ex.Message);
        }
        finally
        {
            foreach (var node in nodes)
            {
                if (node is not null)
                {
                    await node.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        report.Errors.AddRange(report.Rounds.Where(r => r.Problem is not null).Select(r => $"round {r.Round} (killed {r.KilledNode}): {r.Problem}"));
        report.DurationSeconds = clock.Elapsed.TotalSeconds;
        return report;
    }

    private async Task PlaceAsync(NexClient client, Workloads workloads, BenchNode?[] nodes, FleetReport report, CancellationToken cancellationToken)
    {
        progress($"fleet: placing {settings.Placements} services without --node…");
        for (var i = 0; i < settings.Placements; i++)
        {
            await workloads.RunAsync(_echoService, $"spread{i}", [$"fleet.spread.{i}"], essential: false, replicas: 1, cancellationToken).ConfigureAwait(false);
        }

        foreach (var node in nodes.OfType<BenchNode>())
        {
            var info = await client.InfoAsync(node.NodeId, cancellationToken).ConfigureAwait(false);
            report.Spread[node.Name] = info.Machines.Count(m => m.Workload.Name.StartsWith("spread", StringComparison.Ordinal));
        }

        progress($"fleet: one deploy with --replicas {nodes.Length}…");
        await workloads.RunAsync(_echoService, "replicated", ["fleet.replicated"], essential: false, replicas: nodes.Length, cancellationToken).ConfigureAwait(false);
        foreach (var node in nodes.OfType<BenchNode>())
        {
            var info = await client.InfoAsync(node.NodeId, cancellationToken).ConfigureAwait(false);
            report.ReplicaSpread[node.Name] = info.Machines.Count(m => m.Workload.Name == "replicated");
        }

        // The kill rounds measure one service; the others would only slow every node's restart down.
        foreach (var found in await client.FindWorkloadsAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            await workloads.StopAsync(new DeployedWorkload(found.NodeId, found.Workload.Id, found.Workload.Name), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task KillRoundsAsync(INatsConnection caller, NexClient client, Workloads workloads, BenchNodeSettings[] slots, BenchNode?[] nodes, string urls, FleetReport report, CancellationToken cancellationToken)
    {
        await workloads.RunAsync(_echoService, ServiceName, [ServiceSubject], essential: true, replicas: 1, cancellationToken).ConfigureAwait(false);
        await Workloads.WaitAnsweringAsync(caller, ServiceSubject, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        for (var round = 1; round <= settings.Rounds; round++)
        {
            var running = await client.FindWorkloadsAsync(ServiceName, cancellationToken).ConfigureAwait(false);
            if (running.Count != 1)
            {
                throw new BenchException($"round {round}: {running.Count} copies of the service run before the kill");
            }

            var slot = Array.FindIndex(nodes, n => n?.NodeId == running[0].NodeId);
            if (slot < 0)
            {
                throw new BenchException($"round {round}: the service runs on a node the bench did not start ({running[0].NodeId})");
            }

            var killed = nodes[slot]!;
            progress($"fleet: round {round}/{settings.Rounds}: kill -9 of {killed.Name}…");
            var killedAt = Stopwatch.GetTimestamp();
            Posix.Signal(killed.Pid, Posix.SIGKILL);
            var answer = await FirstAnswerAsync(caller, killedAt, cancellationToken).ConfigureAwait(false);
            await killed.DisposeAsync().ConfigureAwait(false);
            nodes[slot] = null;

            // Settled: the node comes back with its identity (and must not start a second copy), then copies and records are counted.
            nodes[slot] = await BenchNode.StartAsync(urls, client, slots[slot], cancellationToken).ConfigureAwait(false);
            var (copies, records) = await SettleAsync(caller, client, cancellationToken).ConfigureAwait(false);
            var from = answer.From is { } id ? nodes.FirstOrDefault(n => n?.NodeId == id)?.Name ?? id : null;
            string? problem = answer.Seconds < 0 ? "no answer within the window" : copies != 1 || records != 1 ? $"{copies} copies, {records} records" : null;
            report.Rounds.Add(new FleetRound(round, killed.Name, answer.Seconds, from, copies, records, problem));
            if (answer.Seconds < 0)
            {
                // Lost: deploy it again so later rounds still measure something.
                await workloads.RunAsync(_echoService, ServiceName, [ServiceSubject], essential: true, replicas: 1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Seconds from the kill to the first answer (after the service was seen gone), and who runs it then; -1 when none came.</summary>
    private async Task<(double Seconds, string? From)> FirstAnswerAsync(INatsConnection caller, long killedAt, CancellationToken cancellationToken)
    {
        var opts = new NatsSubOpts { Timeout = TimeSpan.FromMilliseconds(250) };
        var seenGone = false;
        while (Stopwatch.GetElapsedTime(killedAt) < settings.AnswerWindow)
        {
            try
            {
                var reply = await caller.RequestAsync<byte[], byte[]>(ServiceSubject, "ping"u8.ToArray(), replyOpts: opts, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!reply.HasNoResponders && seenGone)
                {
                    var seconds = Stopwatch.GetElapsedTime(killedAt).TotalSeconds;
                    var client = new NexClient(caller, new NexClientOptions { Timeout = TimeSpan.FromSeconds(2) });
                    var found = await client.FindWorkloadsAsync(ServiceName, cancellationToken).ConfigureAwait(false);
                    return (seconds, found.Count > 0 ? found[0].NodeId : null);
                }

                seenGone |= reply.HasNoResponders;
            }
            catch (Exception ex) when (ex is NatsNoRespondersException or NatsNoReplyException or TimeoutException)
            {
                seenGone = true;
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }

        return (-1, null);
    }

    /// <summary>Copies running and records kept once both stop changing (at most 10 s).</summary>
    private static async Task<(int Copies, int Records)> SettleAsync(INatsConnection caller, NexClient client, CancellationToken cancellationToken)
    {
        (int, int) last = (-1, -1);
        var stable = 0;
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var copies = (await client.FindWorkloadsAsync(ServiceName, cancellationToken).ConfigureAwait(false)).Count;
            var records = (await DesiredStateReader.ReadAsync(caller, cancellationToken).ConfigureAwait(false) ?? []).Count(r => r.Workload.Name == ServiceName);
            stable = (copies, records) == last ? stable + 1 : 0;
            last = (copies, records);
            if (stable >= 3 && copies == 1 && records == 1)
            {
                break;
            }

            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }

        return last;
    }
}
