using System.Globalization;
using Nex.Processes;

namespace Nex.Bench;

/// <summary>What a process under the node is.</summary>
internal enum ProcessRole
{
    Agent,
    InternalNats,
    Workload,
}

/// <summary>CPU time (µs) of each part of the function path, at one moment, or per call (a difference divided by the calls).</summary>
internal sealed record CpuSample(double Bench, double MainNats, double Node, double InternalNats, double Agents)
{
    /// <summary>Everything together.</summary>
    public double Total => Bench + MainNats + Node + InternalNats + Agents;

    /// <summary>What <paramref name="calls"/> calls cost between <paramref name="before"/> and <paramref name="after"/>, per call.</summary>
    public static CpuSample PerCall(CpuSample before, CpuSample after, int calls) => calls <= 0 ? new(0, 0, 0, 0, 0) : new(
        (after.Bench - before.Bench) / calls,
        (after.MainNats - before.MainNats) / calls,
        (after.Node - before.Node) / calls,
        (after.InternalNats - before.InternalNats) / calls,
        (after.Agents - before.Agents) / calls);
}

/// <summary>One process's resident memory, in KiB.</summary>
internal sealed record ProcessMemory(int Pid, ProcessRole Role, long RssKiB);

/// <summary>Resident memory of a process tree, from /proc.</summary>
internal static class Procfs
{
    public static long RssKiB(int pid) => StatusKiB(pid, "VmRSS") ?? 0;

    /// <summary>Every live descendant of <paramref name="pid"/> with its role and RSS.</summary>
    public static IReadOnlyList<ProcessMemory> Descendants(int pid)
    {
        var result = new List<ProcessMemory>();
        foreach (var child in ProcessTree.Descendants(pid))
        {
            var cmdline = CommandLine(child);
            if (cmdline is null || StatusKiB(child, "VmRSS") is not { } rss)
            {
                continue; // gone, or a zombie (no VmRSS)
            }

            // Wrappers (setpriv, unshare) exec or fork the real program; classify by what runs now.
            var role = IsAgent(cmdline) ? ProcessRole.Agent
                : cmdline.Contains("nats-server", StringComparison.Ordinal) ? ProcessRole.InternalNats
                : ProcessRole.Workload;
            result.Add(new ProcessMemory(child, role, rss));
        }

        // A wrapper (unshare, a VMM) and the agent it runs are one agent: sum them under the outermost.
        var agents = result.Where(p => p.Role == ProcessRole.Agent).ToDictionary(p => p.Pid);
        foreach (var inner in agents.Values.ToList())
        {
            var outer = ParentOf(inner.Pid) is { } parent && agents.TryGetValue(parent, out var wrapper) ? wrapper : null;
            if (outer is not null)
            {
                agents[outer.Pid] = agents[outer.Pid] with { RssKiB = agents[outer.Pid].RssKiB + inner.RssKiB };
                agents.Remove(inner.Pid);
            }
        }

        return [.. result.Where(p => p.Role != ProcessRole.Agent), .. agents.Values];
    }

    // Anything that names nex-agent (the agent, or a wrapper or VMM running it) is an agent, except a
    // workload whose path lies in the no-sandbox agents' run directory ("nex-agents-<pid>-…").
    private static bool IsAgent(string cmdline) =>
        cmdline.Replace("nex-agents-", string.Empty, StringComparison.Ordinal).Contains("nex-agent", StringComparison.Ordinal);

    /// <summary>CPU time (user + system, all threads) of one process so far, in microseconds; 0 when it is gone.</summary>
    public static long CpuMicros(int pid)
    {
        try
        {
            // utime and stime are fields 14 and 15 of /proc/pid/stat, in clock ticks (USER_HZ, 100 on Linux).
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10_000;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>
    /// CPU time so far (µs) of the processes a function call goes through, by part: the bench itself, the main
    /// nats-server, the node, its internal nats-server, and its agents (with any wrapper around them).
    /// </summary>
    public static CpuSample Cpu(int benchPid, int mainNatsPid, int nodePid)
    {
        long internalNats = 0, agents = 0;
        foreach (var child in ProcessTree.Descendants(nodePid))
        {
            if (CommandLine(child) is not { } cmdline)
            {
                continue;
            }

            if (IsAgent(cmdline))
            {
                agents += CpuMicros(child);
            }
            else if (cmdline.Contains("nats-server", StringComparison.Ordinal))
            {
                internalNats += CpuMicros(child);
            }
        }

        return new CpuSample(CpuMicros(benchPid), CpuMicros(mainNatsPid), CpuMicros(nodePid), internalNats, agents);
    }

    /// <summary>The parent pid (field 4 of /proc/pid/stat, after the parenthesised name).</summary>
    public static int? ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    public static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long? StatusKiB(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    var value = line[(field.Length + 1)..].Trim().Split(' ')[0];
                    return long.Parse(value, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        return null;
    }
}
