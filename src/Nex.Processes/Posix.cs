using System.Runtime.InteropServices;

namespace Nex.Processes;

/// <summary>The few libc calls .NET does not expose.</summary>
public static partial class Posix
{
    /// <summary>Hang up: nats-server reloads its configuration.</summary>
    public const int SIGHUP = 1;

    /// <summary>Interrupt.</summary>
    public const int SIGINT = 2;

    /// <summary>Kill.</summary>
    public const int SIGKILL = 9;

    /// <summary>Terminate.</summary>
    public const int SIGTERM = 15;

    /// <summary>Signals every process in the group led by <paramref name="pgid"/>.</summary>
    public static bool SignalGroup(int pgid, int signal) => pgid > 1 && KillNative(-pgid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int sig);

    /// <summary>Sends a signal; false when the process does not exist (or we may not signal it).</summary>
    public static bool Signal(int pid, int signal) => pid > 0 && KillNative(pid, signal) == 0;

    /// <summary>Signal 0: does a process with this pid exist?</summary>
    public static bool IsAlive(int pid) => pid > 0 && (KillNative(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1 /* EPERM: exists */);
}
