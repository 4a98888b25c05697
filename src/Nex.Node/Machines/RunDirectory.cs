using System.Globalization;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// A node's run directories: <c>$TMPDIR/&lt;prefix&gt;&lt;node pid&gt;-&lt;random&gt;</c>. A sandbox driver's holds
/// per-machine sockets, initrds and metadata (short, because unix socket paths are limited to 107
/// bytes); the internal NATS server's holds its configuration; the no-sandbox driver's holds each agent's
/// <c>TMPDIR</c> (its artifact, <c>workload-&lt;id&gt;</c>). Directories of nodes that died without
/// cleaning up (<c>kill -9</c>) are removed when a new one with the same prefix is made.
/// </summary>
internal static class RunDirectory
{
    /// <summary>A sandbox driver's directory.</summary>
    public const string SandboxPrefix = "nex-sandbox-";

    /// <summary>Removes stale directories with <paramref name="prefix"/>, then creates and returns a new one.</summary>
    public static string Create(string prefix = SandboxPrefix)
    {
        var parent = Path.GetTempPath();
        foreach (var dir in Directory.EnumerateDirectories(parent, prefix + "*"))
        {
            var parts = Path.GetFileName(dir)[prefix.Length..].Split('-');
            if (int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !Posix.IsAlive(pid))
            {
                Delete(dir);
            }
        }

        var path = Path.Combine(parent, $"{prefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
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
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the next sweep (a workload's unwritable subdirectory, a file still open).
        }
    }
}
