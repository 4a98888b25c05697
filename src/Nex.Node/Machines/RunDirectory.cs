using System.Globalization;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// A sandbox driver's directory of per-machine sockets, initrds and metadata:
/// <c>$TMPDIR/nex-sandbox-&lt;node pid&gt;-&lt;random&gt;</c>, short because unix socket paths are limited to
/// 107 bytes. Directories of nodes that died without cleaning up are removed when a new one is made.
/// </summary>
internal static class RunDirectory
{
    private const string Prefix = "nex-sandbox-";

    /// <summary>Removes stale directories, then creates and returns a new one.</summary>
    public static string Create()
    {
        var parent = Path.GetTempPath();
        foreach (var dir in Directory.EnumerateDirectories(parent, Prefix + "*"))
        {
            var parts = Path.GetFileName(dir)[Prefix.Length..].Split('-');
            if (int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !Posix.IsAlive(pid))
            {
                Delete(dir);
            }
        }

        var path = Path.Combine(parent, $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Removes a directory; one still in use by a machine shutting down is left for the next sweep.</summary>
    public static void Delete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
