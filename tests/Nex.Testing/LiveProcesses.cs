using System.Globalization;

namespace Nex.Testing;

/// <summary>Looks at live processes through /proc.</summary>
public static class LiveProcesses
{
    /// <summary>Pids whose command line contains <paramref name="fragment"/> (zombies excluded).</summary>
    public static IReadOnlyList<int> WithCommandLine(string fragment)
    {
        var result = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(fragment, StringComparison.Ordinal) && !File.ReadAllText(Path.Combine(dir, "stat")).Contains(") Z ", StringComparison.Ordinal))
                {
                    result.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return result;
    }

    public static async Task WaitUntilGoneAsync(string fragment, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (WithCommandLine(fragment).Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"processes matching '{fragment}' still alive: {string.Join(",", WithCommandLine(fragment))}");
            }

            await Task.Delay(50);
        }
    }
}
