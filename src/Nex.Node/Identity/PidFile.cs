using System.Globalization;
using Nex.Processes;

namespace Nex.Node.Identity;

/// <summary>
/// Keeps two nodes off one host, as 0.2 does (spec §4.3): a PID file whose process is alive
/// blocks the start. Unlike 0.2 a stale file whose PID now belongs to some other program is
/// ignored. <c>NEX_ENVIRONMENT=spec</c> skips the check, as in 0.2.
/// </summary>
internal sealed class PidFile : IDisposable
{
    private readonly string _path;
    private int _released;

    private PidFile(string path) => _path = path;

    public static PidFile Acquire(string path)
    {
        var skipCheck = string.Equals(Environment.GetEnvironmentVariable("NEX_ENVIRONMENT"), "spec", StringComparison.OrdinalIgnoreCase);
        if (!skipCheck && TryReadPid(path) is { } pid && pid != Environment.ProcessId && Posix.IsAlive(pid) && LooksLikeNex(pid))
        {
            throw new NodeStartException($"node process already running; pid: {pid} (pid file {path})");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        return new PidFile(path);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        // Only remove the file if it is still ours.
        if (TryReadPid(_path) == Environment.ProcessId)
        {
            File.Delete(_path);
        }
    }

    private static int? TryReadPid(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool LooksLikeNex(int pid)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains("nex", StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return true; // cannot tell: be safe, as 0.2 is
        }
    }
}
