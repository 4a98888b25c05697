using System.Globalization;

namespace Nex.Processes;

/// <summary>What a process tree uses right now: resident memory, CPU time so far, and how many processes.</summary>
/// <param name="ResidentBytes">Sum of the processes' resident set sizes.</param>
/// <param name="CpuTime">Sum of their user and system CPU time (live processes only).</param>
/// <param name="Processes">How many processes, the root included.</param>
public sealed record ProcessTreeUsage(long ResidentBytes, TimeSpan CpuTime, int Processes);

/// <summary>
/// One snapshot of every process in <c>/proc</c> (parent, CPU time, resident pages), read once so that the
/// usage of many process trees costs one pass over <c>/proc</c>, not one per tree.
/// </summary>
public sealed class ProcessTable
{
    // USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI we run on.
    private const double TicksPerSecond = 100;

    private readonly Dictionary<int, Entry> _entries;
    private readonly Dictionary<int, List<int>> _children;

    private ProcessTable(Dictionary<int, Entry> entries)
    {
        _entries = entries;
        _children = [];
        foreach (var (pid, entry) in entries)
        {
            if (!_children.TryGetValue(entry.Ppid, out var list))
            {
                _children[entry.Ppid] = list = [];
            }

            list.Add(pid);
        }
    }

    /// <summary>How many processes the snapshot holds.</summary>
    public int Count => _entries.Count;

    /// <summary>Reads <c>/proc</c> now (empty where there is none).</summary>
    /// <returns>The snapshot.</returns>
    public static ProcessTable Read()
    {
        var entries = new Dictionary<int, Entry>();
        if (Directory.Exists("/proc"))
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) && ReadEntry(pid) is { } entry)
                {
                    entries[pid] = entry;
                }
            }
        }

        return new ProcessTable(entries);
    }

    /// <summary>The usage of <paramref name="rootPid"/> and all its descendants, or null when it is not in the snapshot.</summary>
    /// <param name="rootPid">The tree's root process.</param>
    /// <returns>The sums over the tree.</returns>
    public ProcessTreeUsage? TreeUsage(int rootPid)
    {
        if (!_entries.ContainsKey(rootPid))
        {
            return null;
        }

        long pages = 0;
        long ticks = 0;
        var count = 0;
        var queue = new Queue<int>([rootPid]);
        while (queue.Count > 0)
        {
            var pid = queue.Dequeue();
            if (_entries.TryGetValue(pid, out var entry))
            {
                pages += entry.ResidentPages;
                ticks += entry.CpuTicks;
                count++;
            }

            if (_children.TryGetValue(pid, out var children))
            {
                foreach (var child in children)
                {
                    queue.Enqueue(child);
                }
            }
        }

        return new ProcessTreeUsage(pages * Environment.SystemPageSize, TimeSpan.FromSeconds(ticks / TicksPerSecond), count);
    }

    private static Entry? ReadEntry(int pid)
    {
        try
        {
            // "pid (comm) state ppid pgrp … utime(14) stime(15) … rss(24)"; comm may hold spaces and ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            var rss = long.Parse(fields[21], CultureInfo.InvariantCulture);
            return new Entry(ppid, utime + stime, Math.Max(0, rss));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or OverflowException)
        {
            return null; // gone meanwhile, or not ours to read
        }
    }

    private readonly record struct Entry(int Ppid, long CpuTicks, long ResidentPages);
}
