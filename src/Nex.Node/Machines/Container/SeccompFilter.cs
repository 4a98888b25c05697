using System.Runtime.InteropServices;

namespace Nex.Node.Machines.Container;

/// <summary>
/// The sandbox's seccomp filter, compiled to classic BPF by libseccomp for bubblewrap's <c>--seccomp</c>.
/// A deny list in the spirit of Docker's default profile: everything a service, the .NET runtime, V8
/// and Wasmtime use is allowed; what reconfigures the kernel, crosses into other processes or makes new
/// namespaces fails with EPERM. <c>clone3</c> fails with ENOSYS so that libc falls back to <c>clone</c>,
/// whose namespace flags the filter can see.
/// </summary>
internal static partial class SeccompFilter
{
    private const string Library = "libseccomp.so.2";
    private const uint ActAllow = 0x7fff0000;
    private const int Eperm = 1;
    private const int Enosys = 38;
    private const int CmpMaskedEq = 7;

    /// <summary>Syscalls that fail with EPERM.</summary>
    internal static readonly string[] Denied =
    [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
        "finit_module", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms",
        "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl",
        "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr",
        "move_mount", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
        "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace",
        "query_module", "quotactl", "reboot", "request_key", "setns", "settimeofday", "swapoff",
        "swapon", "syslog", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vhangup",
    ];

    // CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET.
    private static readonly ulong[] NamespaceFlags = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

    /// <summary>Writes the compiled filter to <paramref name="path"/>.</summary>
    /// <param name="path">The file to create.</param>
    /// <exception cref="InvalidOperationException">libseccomp is missing or refused the filter.</exception>
    public static void Export(string path)
    {
        IntPtr ctx;
        try
        {
            ctx = Init(ActAllow);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException($"libseccomp is missing ({Library}; Debian package libseccomp2)", ex);
        }

        if (ctx == IntPtr.Zero)
        {
            throw new InvalidOperationException("seccomp_init failed");
        }

        try
        {
            foreach (var name in Denied)
            {
                var nr = ResolveName(name);
                if (nr >= 0)
                {
                    Check(RuleAddArray(ctx, Errno(Eperm), nr, 0, IntPtr.Zero), name);
                }
            }

            var clone3 = ResolveName("clone3");
            if (clone3 >= 0)
            {
                Check(RuleAddArray(ctx, Errno(Enosys), clone3, 0, IntPtr.Zero), "clone3");
            }

            var clone = ResolveName("clone");
            foreach (var flag in NamespaceFlags)
            {
                // clone(flags, …): deny when (flags & flag) == flag.
                var cmp = new ArgCmp { Arg = 0, Op = CmpMaskedEq, DatumA = flag, DatumB = flag };
                Check(RuleAddOne(ctx, Errno(Eperm), clone, 1, in cmp), "clone");
            }

            using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
            Check(ExportBpf(ctx, (int)file.SafeFileHandle.DangerousGetHandle()), "export");
        }
        finally
        {
            Release(ctx);
        }
    }

    private static uint Errno(int errno) => 0x00050000u | (uint)(errno & 0xffff);

    private static void Check(int rc, string what)
    {
        if (rc < 0)
        {
            throw new InvalidOperationException($"libseccomp refused the rule for {what} (error {-rc})");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ArgCmp
    {
        public uint Arg;
        public int Op;
        public ulong DatumA;
        public ulong DatumB;
    }

    [LibraryImport(Library, EntryPoint = "seccomp_init")]
    private static partial IntPtr Init(uint defaultAction);

    [LibraryImport(Library, EntryPoint = "seccomp_rule_add_array")]
    private static partial int RuleAddArray(IntPtr ctx, uint action, int syscall, uint argCount, IntPtr args);

    [LibraryImport(Library, EntryPoint = "seccomp_rule_add_array")]
    private static partial int RuleAddOne(IntPtr ctx, uint action, int syscall, uint argCount, in ArgCmp args);

    [LibraryImport(Library, EntryPoint = "seccomp_syscall_resolve_name", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ResolveName(string name);

    [LibraryImport(Library, EntryPoint = "seccomp_export_bpf")]
    private static partial int ExportBpf(IntPtr ctx, int fd);

    [LibraryImport(Library, EntryPoint = "seccomp_release")]
    private static partial void Release(IntPtr ctx);
}
