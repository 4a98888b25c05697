using System.Diagnostics;
using NATS.Client.Core;
using Nex.Client;
using Nex.Processes;

namespace Nex.Bench;

/// <summary>
/// Section 4: deploy/stop cycles of a native service with the node's and its internal nats-server's RSS
/// sampled every sixth of the run, then kill -9 of an agent and of the node, counting the <c>workload-*</c>
/// files left in the node's own TMPDIR (and whether a new node on it removes them).
/// </summary>
internal sealed partial class Campaign
{
    // Deploys go out in batches and are stopped after the batch: a stop JWT must be of a later second than the
    // deploy's, and by then it is, so no cycle waits for the clock.
    private const int SoakBatch = 10;

    private async Task SoakAsync(Context context, CampaignReport report, CancellationToken cancellationToken)
    {
        var tmp = Directory.CreateTempSubdirectory("nex-campaign-tmp-").FullName;
        var soak = new SoakResult { Cycles = _settings.Cycles };
        report.Soak = soak;
        try
        {
            var node = await StartNodeAsync(context, poolSize: 1, tempDirectory: tmp, cancellationToken).ConfigureAwait(false);
            try
            {
                await CyclesAsync(context, node, soak, cancellationToken).ConfigureAwait(false);
                await LeftoversAsync(context, node, soak, tmp, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await node.DisposeAsync().ConfigureAwait(false);
            }

            await using var restarted = await StartNodeAsync(context, poolSize: 1, tempDirectory: tmp, cancellationToken).ConfigureAwait(false);
            await Task.Delay(2000, cancellationToken).ConfigureAwait(false);
            soak.WorkloadFilesAfterRestart = WorkloadFiles(tmp);
            _progress($"  workload-* files: {soak.WorkloadFilesWhileRunning} while running, {soak.WorkloadFilesAfterAgentKill} after an agent's kill -9, {soak.WorkloadFilesAfterNodeKill} after the node's, {soak.WorkloadFilesAfterRestart} after a new node started; {soak.OrphansAfterNodeKill} orphan processes");
        }
        finally
        {
            try
            {
                Directory.Delete(tmp, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private async Task CyclesAsync(Context context, BenchNode node, SoakResult soak, CancellationToken cancellationToken)
    {
        var w = context.Workloads;
        var every = Math.Max(1, _settings.Cycles / 6);
        var started = Stopwatch.GetTimestamp();
        soak.Curve.Add(Sample(node, 0));
        var done = 0;
        while (done < _settings.Cycles)
        {
            var batch = new List<DeployedWorkload>();
            var size = Math.Min(SoakBatch, _settings.Cycles - done);
            for (var i = 0; i < size; i++)
            {
                var n = done + i;
                try
                {
                    batch.Add(await w.SendAsync(node, w.BuildDeploy(node, EchoService, $"soak{n % 50}", argv: [$"campaign.soak.{n}"], triggers: null), cancellationToken).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is NexClientException or NatsException or TimeoutException)
                {
                    Fail(soak, $"deploy {n}: {ex.Message}", deploy: true);
                }
            }

            foreach (var workload in batch)
            {
                try
                {
                    await w.StopAsync(workload, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NexClientException or NatsException or TimeoutException)
                {
                    Fail(soak, $"stop {workload.Name}: {ex.Message}", deploy: false);
                }
            }

            var before = done;
            done += size;
            if (done / every != before / every || done == _settings.Cycles)
            {
                var sample = Sample(node, done);
                if (soak.Curve[^1].Cycle != done)
                {
                    soak.Curve.Add(sample);
                    _progress($"  {done} cycles: node {sample.NodeRssMiB:0.0} MiB, internal nats-server {sample.InternalNatsRssMiB:0.0} MiB, {sample.Agents} agents, {Seconds(started):0} s");
                }
            }

            if (node.HasExited)
            {
                throw new BenchException($"the node exited during the soak{node.OutputTail}");
            }
        }

        soak.Seconds = Seconds(started);
    }

    private static void Fail(SoakResult soak, string message, bool deploy)
    {
        if (deploy)
        {
            soak.DeployFailures++;
        }
        else
        {
            soak.StopFailures++;
        }

        if (soak.FailureExamples.Count < 10)
        {
            soak.FailureExamples.Add(Clip(message));
        }
    }

    private static RssSample Sample(BenchNode node, int cycle)
    {
        var processes = node.Processes();
        var nats = processes.Where(p => p.Role == ProcessRole.InternalNats).Sum(p => p.RssKiB);
        return new RssSample(cycle, Procfs.RssKiB(node.Pid) / 1024.0, nats / 1024.0, processes.Count(p => p.Role == ProcessRole.Agent));
    }

    private async Task LeftoversAsync(Context context, BenchNode node, SoakResult soak, string tmp, CancellationToken cancellationToken)
    {
        var w = context.Workloads;
        for (var i = 0; i < 2; i++)
        {
            await w.SendAsync(node, w.BuildDeploy(node, EchoService, $"leftover{i}", argv: [$"campaign.leftover.{i}"], triggers: null), cancellationToken).ConfigureAwait(false);
            await Workloads.WaitAnsweringAsync(context.Caller, $"campaign.leftover.{i}", TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        soak.WorkloadFilesWhileRunning = WorkloadFiles(tmp);
        var busy = BusyAgents(node);
        if (busy.FirstOrDefault() is var agent and > 0)
        {
            Posix.Signal(agent, Posix.SIGKILL);
            await WaitGoneAsync([agent], TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
        }

        soak.WorkloadFilesAfterAgentKill = WorkloadFiles(tmp);

        // kill -9 of the node itself: its children are then orphans; count those still alive, and end them.
        var descendants = ProcessTree.Descendants(node.Pid).ToList();
        Posix.Signal(node.Pid, Posix.SIGKILL);
        await WaitGoneAsync([node.Pid], TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        await Task.Delay(2000, cancellationToken).ConfigureAwait(false);
        var orphans = descendants.Where(pid => Posix.IsAlive(pid) && !IsZombie(pid)).ToList();
        soak.OrphansAfterNodeKill = orphans.Count;
        foreach (var pid in orphans)
        {
            Posix.Signal(pid, Posix.SIGKILL);
        }

        await WaitGoneAsync(orphans, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        soak.WorkloadFilesAfterNodeKill = WorkloadFiles(tmp);
    }

    private static async Task WaitGoneAsync(IReadOnlyList<int> pids, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (pids.Any(pid => Posix.IsAlive(pid) && !IsZombie(pid)) && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static int WorkloadFiles(string tmp) =>
        Directory.Exists(tmp) ? Directory.EnumerateFileSystemEntries(tmp, "workload-*", SearchOption.AllDirectories).Count() : 0;
}
