using System.Diagnostics;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Client;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Bench;

/// <summary>
/// Section 3: kill -9 of the node's internal nats-server, then of agents, with a function and an essential
/// native service deployed; how long until each answers again (or PING/INFO say the node is unhealthy), and
/// whether PING/INFO still list machines that are gone.
/// </summary>
internal sealed partial class Campaign
{
    private const string FunctionSubject = "campaign.fn";
    private const string ServiceSubject = "campaign.svc";

    private async Task SurvivalAsync(Context context, CampaignReport report, bool killAgent, CancellationToken cancellationToken)
    {
        await using var node = await StartNodeAsync(context, poolSize: 1, tempDirectory: null, cancellationToken).ConfigureAwait(false);
        var w = context.Workloads;
        await w.SendAsync(node, w.BuildDeploy(node, V8Echo, "survivalfn", argv: null, triggers: [FunctionSubject]), cancellationToken).ConfigureAwait(false);
        await Workloads.WaitAnsweringAsync(context.Caller, FunctionSubject, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        await w.SendAsync(node, w.BuildDeploy(node, EchoService, "survivalsvc", argv: [ServiceSubject], triggers: null, essential: true), cancellationToken).ConfigureAwait(false);
        await Workloads.WaitAnsweringAsync(context.Caller, ServiceSubject, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        await node.WaitIdleAgentsAsync(1, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);

        var functionAgentPid = AgentsByAge(node).FirstOrDefault(a => !BusyAgents(node).Contains(a));
        if (!killAgent)
        {
            var server = node.Processes().FirstOrDefault(p => p.Role == ProcessRole.InternalNats)
                ?? throw new BenchException("no internal nats-server among the node's processes");
            var result = new SurvivalResult { Killed = "internal nats-server", KilledPid = server.Pid };
            report.Survival.Add(result);
            Posix.Signal(server.Pid, Posix.SIGKILL);
            await WatchRecoveryAsync(context, node, result, functionAgentPid, [], cancellationToken).ConfigureAwait(false);
            return;
        }

        // The service's agent is the one with a workload process under it; the function's is the oldest of the
        // others (deployed first; the warm one came after).
        var agents = AgentsByAge(node);
        var busy = BusyAgents(node);
        var serviceAgent = agents.FirstOrDefault(busy.Contains);
        var functionAgent = agents.FirstOrDefault(a => !busy.Contains(a));
        foreach (var (pid, what) in new[] { (serviceAgent, "agent of the essential service"), (functionAgent, "agent of the function") })
        {
            if (pid == 0)
            {
                report.Errors.Add($"kill -9 of the {what}: not found among the node's processes");
                continue;
            }

            var under = ProcessTree.Descendants(pid).ToList();
            var result = new SurvivalResult { Killed = what, KilledPid = pid, ProcessesUnderKilled = under.Count };
            report.Survival.Add(result);
            Posix.Signal(pid, Posix.SIGKILL);
            await WatchRecoveryAsync(context, node, result, functionAgentPid, under, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Polls the function, the service, PING and INFO until both answer again, the node says it is
    /// unhealthy, or the window ends; then reads what PING and INFO list against the live agents.</summary>
    private async Task WatchRecoveryAsync(Context context, BenchNode node, SurvivalResult result, int functionAgentPid, IReadOnlyList<int> underKilled, CancellationToken cancellationToken)
    {
        var caller = context.Caller;
        var started = Stopwatch.GetTimestamp();
        var window = TimeSpan.FromSeconds(_settings.RecoverySeconds);
        result.WindowSeconds = window.TotalSeconds;

        // A workload that answers at once was never down (e.g. the function lives on after its agent's server died):
        // first wait until each has been seen failing, or 3 s went by.
        // "Down" takes two failed polls in a row: on a loaded machine one call can miss its 1 s by itself.
        bool fnDown = false, svcDown = false, fnMissed = false, svcMissed = false;
        while (Stopwatch.GetElapsedTime(started) < window)
        {
            var fn = await AnswersAsync(caller, FunctionSubject, cancellationToken).ConfigureAwait(false);
            var svc = await AnswersAsync(caller, ServiceSubject, cancellationToken).ConfigureAwait(false);
            fnDown |= !fn && fnMissed;
            svcDown |= !svc && svcMissed;
            fnMissed = !fn;
            svcMissed = !svc;
            result.FunctionWentDown = fnDown;
            result.ServiceWentDown = svcDown;
            var settled = fnDown || Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(3);
            if (fn && settled && result.FunctionBackSeconds is null)
            {
                result.FunctionBackSeconds = Seconds(started);
            }

            if (svc && (svcDown || Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(3)) && result.ServiceBackSeconds is null)
            {
                result.ServiceBackSeconds = Seconds(started);
            }

            var health = await ReadHealthAsync(caller, node.NodeId, cancellationToken).ConfigureAwait(false);
            result.HealthFieldPresent |= health.FieldPresent;
            if (health.Unhealthy && result.UnhealthySeconds is null)
            {
                result.UnhealthySeconds = Seconds(started);
            }

            if ((result.FunctionBackSeconds is not null && result.ServiceBackSeconds is not null) || result.UnhealthySeconds is not null || node.HasExited)
            {
                break;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        // Give the node's bookkeeping a moment to catch up before judging what it lists.
        await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
        var final = await ReadHealthAsync(caller, node.NodeId, cancellationToken).ConfigureAwait(false);
        result.HealthFieldPresent |= final.FieldPresent;
        result.PingRunningMachines = final.RunningMachines;
        result.InfoMachines = final.InfoMachines;
        result.LiveAgents = AgentsByAge(node).Count;
        result.LiveBusyAgents = BusyAgents(node).Count + (Posix.IsAlive(functionAgentPid) && !IsZombie(functionAgentPid) ? 1 : 0);
        result.ListsGoneMachines = (final.RunningMachines ?? 0) > result.LiveBusyAgents || (final.InfoMachines ?? 0) > result.LiveBusyAgents;
        result.NodeAlive = !node.HasExited && final.Answered;
        var orphans = underKilled.Where(pid => Posix.IsAlive(pid) && !IsZombie(pid)).ToList();
        result.OrphansAfterWindow = orphans.Count;
        foreach (var pid in orphans)
        {
            Posix.Signal(pid, Posix.SIGKILL); // counted; the campaign leaves nothing behind itself
        }
        try
        {
            var deployed = await context.Workloads.SendAsync(node, context.Workloads.BuildDeploy(node, V8Echo, "afterkill", argv: null, triggers: ["campaign.afterkill"]), cancellationToken).ConfigureAwait(false);
            result.DeployAfter = "accepted";
            await context.Workloads.StopAsync(deployed, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NexClientException or NatsException or TimeoutException)
        {
            result.DeployAfter = Clip(ex.Message);
        }

        _progress($"  {result.Killed}: function back {Fmt(result.FunctionBackSeconds)}, service back {Fmt(result.ServiceBackSeconds)}, unhealthy {Fmt(result.UnhealthySeconds)}; PING lists {result.PingRunningMachines}, INFO {result.InfoMachines}, busy agents {result.LiveBusyAgents}; deploy after: {result.DeployAfter}");
    }

    private static string Fmt(double? seconds) => seconds is { } s ? $"{s:0.0} s" : "never";

    private static async Task<bool> AnswersAsync(NatsConnection caller, string subject, CancellationToken cancellationToken)
    {
        try
        {
            return await RawRequestAsync(caller, subject, "ping"u8.ToArray(), TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (NatsNoRespondersException)
        {
            return false;
        }
    }

    private sealed record Health(bool Answered, bool FieldPresent, bool Unhealthy, int? RunningMachines, int? InfoMachines);

    /// <summary>PING and INFO as raw JSON: the health mark is detected by field presence (<c>unhealthy: true</c>,
    /// or <c>healthy: false</c> at the node level), so the campaign runs before and after it exists.</summary>
    private static async Task<Health> ReadHealthAsync(NatsConnection caller, string nodeId, CancellationToken cancellationToken)
    {
        bool answered = false, present = false, unhealthy = false;
        int? running = null, machines = null;
        foreach (var subject in new[] { NexSubjects.PingNode(nodeId), NexSubjects.Info("default", nodeId) })
        {
            byte[]? reply;
            try
            {
                reply = await RawRequestAsync(caller, subject, [], TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            }
            catch (NatsNoRespondersException)
            {
                continue;
            }

            if (reply is null)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(reply);
                if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                answered = true;
                if (data.TryGetProperty("unhealthy", out var u))
                {
                    present = true;
                    // true, or a reason string (this node's form: "unhealthy": "<reason>", absent when healthy)
                    unhealthy |= u.ValueKind == JsonValueKind.True || (u.ValueKind == JsonValueKind.String && u.GetString() is { Length: > 0 });
                }

                if (data.TryGetProperty("healthy", out var h))
                {
                    present = true;
                    unhealthy |= h.ValueKind == JsonValueKind.False;
                }

                if (data.TryGetProperty("running_machines", out var r) && r.TryGetInt32(out var n))
                {
                    running = n;
                }

                if (data.TryGetProperty("machines", out var m) && m.ValueKind == JsonValueKind.Array)
                {
                    machines = m.GetArrayLength();
                }
            }
            catch (JsonException)
            {
            }
        }

        return new Health(answered, present, unhealthy, running, machines);
    }

    private static List<int> AgentsByAge(BenchNode node) =>
        [.. node.Processes().Where(p => p.Role == ProcessRole.Agent).Select(p => p.Pid).OrderBy(StartTicks)];

    /// <summary>Agents with a workload process under them.</summary>
    private static HashSet<int> BusyAgents(BenchNode node)
    {
        var processes = node.Processes();
        var agents = processes.Where(p => p.Role == ProcessRole.Agent).Select(p => p.Pid).ToHashSet();
        var busy = new HashSet<int>();
        foreach (var workload in processes.Where(p => p.Role == ProcessRole.Workload))
        {
            for (var pid = workload.Pid; pid > 1 && Procfs.ParentOf(pid) is { } parent; pid = parent)
            {
                if (agents.Contains(parent))
                {
                    busy.Add(parent);
                    break;
                }
            }
        }

        return busy;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static long StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return long.MaxValue;
        }
    }
}
