using System.Diagnostics;
using System.Globalization;

namespace Nex.Processes;

/// <summary>Ends a process and everything it started.</summary>
public static class ProcessTree
{
    /// <summary>
    /// SIGTERM to the process (and its group when it leads one), up to <paramref name="grace"/> to
    /// exit, then SIGKILL to the group and to every descendant still alive. Returns when the
    /// process itself has exited.
    /// </summary>
    public static async Task TerminateAsync(Process process, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(process);
        int pid;
        try
        {
            if (process.HasExited)
            {
                Posix.SignalGroup(process.Id, Posix.SIGKILL); // whatever it left in its group
                return;
            }

            pid = process.Id;
        }
        catch (InvalidOperationException)
        {
            return; // never started
        }

        var leadsGroup = IsGroupLeader(pid);
        var descendants = Descendants(pid);
        if (leadsGroup)
        {
            Posix.SignalGroup(pid, Posix.SIGTERM);
        }
        else
        {
            Posix.Signal(pid, Posix.SIGTERM);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Grace is over.
        }

        if (leadsGroup)
        {
            Posix.SignalGroup(pid, Posix.SIGKILL);
        }

        foreach (var child in descendants.Concat(Descendants(pid)))
        {
            Posix.Signal(child, Posix.SIGKILL);
        }

        Posix.Signal(pid, Posix.SIGKILL);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True when <paramref name="pid"/> is the leader of its own process group.</summary>
    public static bool IsGroupLeader(int pid) => ReadStat(pid) is { } stat && stat.Pgid == pid;

    /// <summary>All live descendants of <paramref name="pid"/> (from <c>/proc</c>), children first.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var byParent = new Dictionary<int, List<int>>();
        foreach (var dir in EnumerateProc())
        {
            if (ReadStat(dir) is { } stat)
            {
                if (!byParent.TryGetValue(stat.Ppid, out var list))
                {
                    byParent[stat.Ppid] = list = [];
                }

                list.Add(dir);
            }
        }

        var result = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.Count > 0)
        {
            if (byParent.TryGetValue(queue.Dequeue(), out var children))
            {
                foreach (var child in children)
                {
                    result.Add(child);
                    queue.Enqueue(child);
                }
            }
        }

        return result;
    }

    private static IEnumerable<int> EnumerateProc()
    {
        if (!Directory.Exists("/proc"))
        {
            yield break;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    private static (int Ppid, int Pgid)? ReadStat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (int.Parse(fields[1], CultureInfo.InvariantCulture), int.Parse(fields[2], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
