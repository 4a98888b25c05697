using System.Runtime.InteropServices;

namespace Nex.Node.Processes;

/// <summary>The few libc calls .NET does not expose.</summary>
internal static partial class Posix
{
    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int sig);

    /// <summary>Sends a signal; false when the process does not exist (or we may not signal it).</summary>
    public static bool Signal(int pid, int signal) => pid > 0 && KillNative(pid, signal) == 0;

    /// <summary>Signal 0: does a process with this pid exist?</summary>
    public static bool IsAlive(int pid) => pid > 0 && (KillNative(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1 /* EPERM: exists */);
}
