using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Nex.Cli.Tests;

internal static class CliTestSupport
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Child processes of <paramref name="pid"/> whose command name is <paramref name="comm"/>.</summary>
    public static IReadOnlyList<int> Children(int pid, string comm)
    {
        var result = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var child))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var name = stat[(stat.IndexOf('(') + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                if (name == comm && int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
                {
                    result.Add(child);
                }
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    /// <summary>
    /// Descendants of <paramref name="pid"/> whose command name is <paramref name="comm"/>: a shell between them
    /// (one that forks rather than execs its last command, as some do) does not hide the process.
    /// </summary>
    public static IReadOnlyList<int> Descendants(int pid, string comm)
    {
        var result = new List<int>();
        foreach (var descendant in Nex.Processes.ProcessTree.Descendants(pid))
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{descendant}/stat");
                if (stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')] == comm)
                {
                    result.Add(descendant);
                }
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }
}
