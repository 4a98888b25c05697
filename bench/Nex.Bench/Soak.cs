using System.Diagnostics;
using System.Globalization;
using System.Text;
using NATS.Client.Core;
using Nex.Client;
using Nex.Node.Nats;

namespace Nex.Bench;

/// <summary>One sample of a soak: after <see cref="Cycles"/> deploy/stop cycles.</summary>
internal sealed record SoakSample(int Cycles, double Seconds, long NodeRssKiB, long InternalNatsRssKiB, int NodeThreads, int NodeFds, int Descendants, int TmpEntries, double DeployMs, double StopMs);

/// <summary>
/// <c>nex-bench --soak N</c>: N deploy/stop cycles of the V8 echo function (deploy, one call, stop) on one
/// node (no sandbox), in batches so that the stop JWT's one-second rule is waited for once per batch, and a
/// sample of the node's and its internal nats-server's memory, threads, descriptors and child processes
/// every segment. What grows without bound shows as a slope that does not flatten.
/// </summary>
internal sealed class Soak(string examples, string? nodeDirectory)
{
    private const int Batch = 10;

    public async Task<IReadOnlyList<SoakSample>> RunAsync(int cycles, int segment, Action<string> sampled, CancellationToken cancellationToken)
    {
        var echo = Path.Combine(examples, "js", "echo.js");
        var keyHome = Directory.CreateTempSubdirectory("nex-soak-keys-").FullName;
        var samples = new List<SoakSample>();
        try
        {
            await using var nats = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using var caller = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.ClientUrl, ConnectionName = "soak" }, cancellationToken).ConfigureAwait(false);
            var client = new NexClient(caller, new NexClientOptions { Timeout = TimeSpan.FromSeconds(30) });
            using var workloads = new Workloads(client, keyHome);
            await workloads.UploadAsync(echo, cancellationToken).ConfigureAwait(false);
            var settings = nodeDirectory is null ? new BenchNodeSettings() : new BenchNodeSettings { NodeDirectory = nodeDirectory };
            await using var node = await BenchNode.StartAsync(nats.ClientUrl, client, settings with { PoolSize = 2 }, cancellationToken).ConfigureAwait(false);

            var wall = Stopwatch.StartNew();
            var deployTicks = 0L;
            var stopTicks = 0L;
            var inSegment = 0;
            samples.Add(Sample(node, 0, wall, 0, 0));
            sampled(Format(samples[^1]));
            for (var done = 0; done < cycles;)
            {
                var batch = new List<DeployedWorkload>();
                for (var i = 0; i < Batch && done + i < cycles; i++)
                {
                    var subject = $"soak.{done + i}";
                    var started = Stopwatch.GetTimestamp();
                    var workload = await workloads.DeployAsync(node, echo, "soakecho", argv: null, triggers: [subject], cancellationToken).ConfigureAwait(false);
                    deployTicks += Stopwatch.GetTimestamp() - started;
                    batch.Add(workload);
                    await caller.RequestAsync<byte[], byte[]>(subject, "soak"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: cancellationToken).ConfigureAwait(false);
                }

                foreach (var workload in batch)
                {
                    var stop = await workloads.BuildStopAsync(workload, cancellationToken).ConfigureAwait(false);
                    var started = Stopwatch.GetTimestamp();
                    await workloads.StopAsync(workload, stop, cancellationToken).ConfigureAwait(false);
                    stopTicks += Stopwatch.GetTimestamp() - started;
                }

                done += batch.Count;
                inSegment += batch.Count;
                if (inSegment >= segment || done == cycles)
                {
                    samples.Add(Sample(node, done, wall, Stopwatch.GetElapsedTime(0, deployTicks).TotalMilliseconds / inSegment, Stopwatch.GetElapsedTime(0, stopTicks).TotalMilliseconds / inSegment));
                    sampled(Format(samples[^1]));
                    (deployTicks, stopTicks, inSegment) = (0, 0, 0);
                }
            }
        }
        finally
        {
            Directory.Delete(keyHome, recursive: true);
        }

        return samples;
    }

    public static string Header => "cycles  seconds  node_rss_mib  internal_nats_rss_mib  node_threads  node_fds  descendants  tmp_entries  deploy_ms  stop_ms";

    public static string Format(SoakSample s) => string.Create(
        CultureInfo.InvariantCulture,
        $"{s.Cycles,6}  {s.Seconds,7:0}  {s.NodeRssKiB / 1024.0,12:0.0}  {s.InternalNatsRssKiB / 1024.0,21:0.0}  {s.NodeThreads,12}  {s.NodeFds,8}  {s.Descendants,11}  {s.TmpEntries,11}  {s.DeployMs,9:0.0}  {s.StopMs,7:0.0}");

    public static string Csv(IReadOnlyList<SoakSample> samples)
    {
        var text = new StringBuilder("cycles,seconds,node_rss_kib,internal_nats_rss_kib,node_threads,node_fds,descendants,tmp_entries,deploy_ms,stop_ms\n");
        foreach (var s in samples)
        {
            text.Append(CultureInfo.InvariantCulture, $"{s.Cycles},{s.Seconds:0.0},{s.NodeRssKiB},{s.InternalNatsRssKiB},{s.NodeThreads},{s.NodeFds},{s.Descendants},{s.TmpEntries},{s.DeployMs:0.00},{s.StopMs:0.00}\n");
        }

        return text.ToString();
    }

    private static SoakSample Sample(BenchNode node, int cycles, Stopwatch wall, double deployMs, double stopMs)
    {
        var tree = Procfs.Descendants(node.Pid);
        var internalNats = tree.Where(p => p.Role == ProcessRole.InternalNats).Sum(p => p.RssKiB);
        var threads = Directory.Exists($"/proc/{node.Pid}/task") ? Directory.GetDirectories($"/proc/{node.Pid}/task").Length : 0;
        var fds = Directory.Exists($"/proc/{node.Pid}/fd") ? Directory.GetFileSystemEntries($"/proc/{node.Pid}/fd").Length : 0;

        // What agents could leave in the shared TMPDIR (workload-<id> files, nex-* directories).
        var tmp = Directory.EnumerateFileSystemEntries(Path.GetTempPath(), "workload-*").Count();
        return new SoakSample(cycles, wall.Elapsed.TotalSeconds, Procfs.RssKiB(node.Pid), internalNats, threads, fds, tree.Count, tmp, deployMs, stopMs);
    }
}
