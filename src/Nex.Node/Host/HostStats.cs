using System.Globalization;
using Nex.Protocol;

namespace Nex.Node.Host;

/// <summary>Host memory from <c>/proc/meminfo</c>, in kB (spec §1.7, §4.14).</summary>
internal static class HostStats
{
    public static MemoryStat? ReadMemory(string path = "/proc/meminfo")
    {
        try
        {
            long total = -1, free = -1, available = -1;
            foreach (var line in File.ReadLines(path))
            {
                var parts = line.Split(':', 2);
                if (parts.Length != 2)
                {
                    continue;
                }

                var value = parts[1].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (value.Length == 0 || !long.TryParse(value[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
                {
                    continue;
                }

                switch (parts[0])
                {
                    case "MemTotal": total = kb; break;
                    case "MemFree": free = kb; break;
                    case "MemAvailable": available = kb; break;
                }
            }

            return total < 0 ? null : new MemoryStat { Total = total, Free = Math.Max(free, 0), Available = Math.Max(available, 0) };
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
