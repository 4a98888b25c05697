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

    /// <summary>
    /// Sets the calling thread's (not the process's) nice value. Without privileges a thread can only lower its
    /// priority, never raise it back.
    /// </summary>
    /// <param name="nice">The nice value, -20 (highest priority) to 19 (lowest).</param>
    /// <returns>Whether it was set.</returns>
    public static bool SetThreadNice(int nice) => SetPriorityNative(0 /* PRIO_PROCESS: one thread, by tid */, GetTidNative(), nice) == 0;

    /// <summary>
    /// Puts the calling thread under <c>SCHED_IDLE</c>: any other thread that wakes on its CPU preempts it at
    /// once, and the kernel counts its CPU as idle when it places a waking thread. Unlike a nice value, this
    /// holds across scheduling groups (each session is its own autogroup, and a nice value only ranks the
    /// threads of one group); its group still gets its share of a busy machine. Needs no privilege; there is no
    /// way back without one.
    /// </summary>
    /// <returns>Whether it was set.</returns>
    public static bool SetThreadIdlePolicy()
    {
        var param = 0; // struct sched_param { int sched_priority; }, 0 for SCHED_IDLE
        return SchedSetSchedulerNative(0 /* the calling thread */, 5 /* SCHED_IDLE */, ref param) == 0;
    }

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetSchedulerNative(int pid, int policy, ref int param);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriorityNative(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTidNative();

    /// <summary>Signals every process in the group led by <paramref name="pgid"/>.</summary>
    public static bool SignalGroup(int pgid, int signal) => pgid > 1 && KillNative(-pgid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int sig);

    /// <summary>Sends a signal; false when the process does not exist (or we may not signal it).</summary>
    public static bool Signal(int pid, int signal) => pid > 0 && KillNative(pid, signal) == 0;

    /// <summary>access(2) with W_OK: may this process write (create entries in) <paramref name="path"/>?</summary>
    public static bool CanWrite(string path) => AccessNative(path, 2) == 0;

    /// <summary>access(2) with the given mode bits (4 read, 2 write, 1 execute/search) for this process's real ids.</summary>
    public static bool CanAccess(string path, int mode) => AccessNative(path, mode) == 0;

    /// <summary>chown(2); false on failure.</summary>
    public static bool Chown(string path, int uid, int gid) => ChownNative(path, uid, gid) == 0;

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int ChownNative(string path, int uid, int gid);

    /// <summary>
    /// <c>prctl(PR_SET_DUMPABLE, 0)</c>: processes of the same user (a workload) may no longer read this
    /// process's <c>/proc/&lt;pid&gt;/environ</c>, <c>mem</c> or <c>fd</c>, nor ptrace it. Children are
    /// unaffected: exec makes them dumpable again.
    /// </summary>
    /// <returns>Whether it was set.</returns>
    public static bool SetNotDumpable() => OperatingSystem.IsLinux() && PrctlNative(4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0) == 0;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int PrctlNative(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    /// <summary>The effective user id.</summary>
    public static uint EffectiveUserId => GetEuidNative();

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int AccessNative(string path, int mode);

    /// <summary>
    /// Makes the kernel rekey its random generator from its input pool now (<c>RNDRESEEDCRNG</c>; needs
    /// CAP_SYS_ADMIN). A VM restored from a snapshot calls it after mixing in a fresh seed, so clones of one
    /// snapshot do not share random streams.
    /// </summary>
    /// <returns>Null on success, else what failed.</returns>
    public static string? ReseedKernelRandom()
    {
        var fd = OpenNative("/dev/urandom", 1 /* O_WRONLY */);
        if (fd < 0)
        {
            return $"open /dev/urandom: errno {Marshal.GetLastPInvokeError()}";
        }

        try
        {
            // RNDRESEEDCRNG = _IO('R', 0x07)
            return IoctlNative(fd, 0x5207) == 0 ? null : $"ioctl RNDRESEEDCRNG: errno {Marshal.GetLastPInvokeError()}";
        }
        finally
        {
            _ = CloseNative(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoctlNative(int fd, nuint request);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int CloseNative(int fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuidNative();

    /// <summary>
    /// Marks every descriptor above 2 that this process inherited close-on-exec (<c>FIOCLEX</c>), so that the
    /// programs it starts inherit none of them. .NET opens its own descriptors close-on-exec, but whatever
    /// our parent leaked to us (its pipes, sockets) would otherwise pass on to them.
    /// </summary>
    /// <returns>How many descriptors were marked.</returns>
    public static int CloseInheritedDescriptorsOnExec()
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc/self/fd"))
        {
            return 0;
        }

        var marked = 0;
        foreach (var entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var fd)
                && fd > 2 && IoctlNative(fd, 0x5451 /* FIOCLEX */) == 0)
            {
                marked++;
            }
        }

        return marked;
    }

    /// <summary>Signal 0: does a process with this pid exist?</summary>
    public static bool IsAlive(int pid) => pid > 0 && (KillNative(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1 /* EPERM: exists */);
}
