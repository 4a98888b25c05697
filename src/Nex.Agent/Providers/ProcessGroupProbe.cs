using System.Globalization;

namespace Nex.Agent.Providers;

/// <summary>Looks in <c>/proc</c> for processes of a process group that still run (zombies count as gone).</summary>
internal static class ProcessGroupProbe
{
    /// <summary>Pids in group <paramref name="pgid"/> that are not zombies.</summary>
    /// <param name="pgid">The process group id.</param>
    /// <returns>The live members.</returns>
    public static IReadOnlyList<int> LiveMembers(int pgid)
    {
        var result = new List<int>();
        if (pgid <= 1 || !Directory.Exists("/proc"))
        {
            return result;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat && stat.Pgid == pgid && stat.State is not ('Z' or 'X'))
            {
                result.Add(pid);
            }
        }

        return result;
    }

    /// <summary>Whether <paramref name="pid"/> exists and is not a zombie.</summary>
    /// <param name="pid">The process id.</param>
    /// <returns>True when it runs.</returns>
    public static bool IsRunning(int pid) => ReadStat(pid) is { State: not ('Z' or 'X') };

    private static (char State, int Pgid)? ReadStat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (fields[0][0], int.Parse(fields[2], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
