using System.Diagnostics;
using System.Runtime.InteropServices;
using Nex.Node.Machines.Container;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>One thing a sandbox driver needs, and whether this host has it.</summary>
/// <param name="Driver">The driver that needs it (<c>node</c> for every driver).</param>
/// <param name="Name">What is checked.</param>
/// <param name="Ready">Whether it is there and works.</param>
/// <param name="Detail">What was found, or what is wrong.</param>
/// <param name="Fix">The exact fix, when not ready.</param>
/// <param name="AptPackage">The Debian package that fixes it, when one does.</param>
public sealed record PreflightCheck(string Driver, string Name, bool Ready, string Detail, string Fix = "", string? AptPackage = null);

/// <summary>
/// What each sandbox driver needs from the host (<c>nex node preflight</c>, and the node before it
/// starts a driver): programs, kernel features, built images. Cheap checks only: a probe run of bwrap,
/// file and permission tests.
/// </summary>
public static class SandboxPreflight
{
    /// <summary>Where <c>nex rootfs build</c> puts the sandbox images by default: <c>&lt;home&gt;/sandbox</c>.</summary>
    /// <param name="home">Nex's home directory.</param>
    /// <returns>The directory.</returns>
    public static string DefaultImageDirectory(string home) => Path.Combine(home, "sandbox");

    /// <summary>The container root filesystem in effect: <c>rootfs_filepath</c> when it names a directory, else the default.</summary>
    /// <param name="config">The node config.</param>
    /// <param name="home">Nex's home directory.</param>
    /// <returns>The directory.</returns>
    public static string ContainerRootfs(Config.NodeConfig config, string home)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.RootFsFilePath is { Length: > 0 } path && Directory.Exists(path)
            ? path
            : Path.Combine(config.DefaultResourceDir is { Length: > 0 } dir ? dir : DefaultImageDirectory(home), "rootfs");
    }

    /// <summary>What every node needs.</summary>
    /// <returns>The checks.</returns>
    public static IEnumerable<PreflightCheck> Node()
    {
        yield return Program("node", "nats-server", "nats-server");
    }

    /// <summary>What the container driver needs.</summary>
    /// <param name="rootfs">The root filesystem it would use.</param>
    /// <returns>The checks.</returns>
    public static IEnumerable<PreflightCheck> Container(string rootfs)
    {
        const string driver = "container";
        var bwrap = Program(driver, "bwrap", "bubblewrap");
        yield return bwrap;
        if (bwrap.Ready)
        {
            yield return BwrapProbe();
        }

        if (Posix.EffectiveUserId == 0)
        {
            yield return Program(driver, "setpriv", "util-linux");
        }

        var version = Cgroup.Detect(out var problem);
        yield return version is { } v
            ? new PreflightCheck(driver, "cgroups", true, $"cgroup {(v == CgroupVersion.V2 ? "v2" : "v1")}: memory, cpu, pids")
            : new PreflightCheck(driver, "cgroups", false, problem ?? "no usable cgroup hierarchy", "run the node as root on a host with the memory, cpu and pids controllers");

        var seccomp = NativeLibrary.TryLoad("libseccomp.so.2", out var handle);
        if (seccomp)
        {
            NativeLibrary.Free(handle);
        }

        yield return new PreflightCheck(driver, "libseccomp", seccomp, seccomp ? "libseccomp.so.2" : "libseccomp.so.2 not found", "apt-get install libseccomp2", "libseccomp2");

        var agent = Path.Combine(rootfs, ContainerMachineDriver.AgentPath.TrimStart('/'));
        yield return File.Exists(agent)
            ? new PreflightCheck(driver, "root filesystem", true, rootfs)
            : new PreflightCheck(driver, "root filesystem", false, $"no agent at {agent}", $"nex rootfs build --output {Path.GetDirectoryName(rootfs)}");
    }

    /// <summary>The microVM image directory in effect: <c>kernel_filepath</c>'s directory when set, else <c>&lt;images&gt;/vm</c>.</summary>
    /// <param name="config">The node config.</param>
    /// <param name="home">Nex's home directory.</param>
    /// <returns>The directory.</returns>
    public static string MicroVmImages(Config.NodeConfig config, string home)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.KernelFilePath is { Length: > 0 } kernel
            ? Path.GetDirectoryName(Path.GetFullPath(kernel))!
            : Path.Combine(config.DefaultResourceDir is { Length: > 0 } dir ? dir : DefaultImageDirectory(home), "vm");
    }

    /// <summary>What the microVM driver needs.</summary>
    /// <param name="images">The directory with the kernel and initramfs.</param>
    /// <param name="probeKvm">Whether to prove KVM with a probe boot when the cheap checks pass.</param>
    /// <returns>The checks.</returns>
    public static IEnumerable<PreflightCheck> MicroVm(string images, bool probeKvm = true)
    {
        const string driver = "microvm";
        yield return Program(driver, "qemu-system-x86_64", "qemu-system-x86");
        yield return Program(driver, "socat", "socat");
        foreach (var (tool, package) in new[] { ("zstd", "zstd"), ("lz4", "lz4"), ("xz", "xz-utils") })
        {
            yield return Program(driver, tool, package);
        }

        foreach (var name in new[] { Nex.Node.Machines.MicroVm.VmImageBuilder.KernelName, Nex.Node.Machines.MicroVm.VmImageBuilder.InitramfsName })
        {
            var path = Path.Combine(images, name);
            yield return File.Exists(path)
                ? new PreflightCheck(driver, name, true, path)
                : new PreflightCheck(driver, name, false, $"{path} is missing", $"nex rootfs build --output {Path.GetDirectoryName(images)}");
        }

        // Whether KVM really works: a probe boot, when the cheap checks pass and the images exist.
        var kvm = KvmLooksUsable(out var why);
        if (kvm && probeKvm && File.Exists(Path.Combine(images, Nex.Node.Machines.MicroVm.VmImageBuilder.InitramfsName)) && ChildProcessLauncher.FindOnPath("qemu-system-x86_64") is { } qemu)
        {
            kvm = Nex.Node.Machines.MicroVm.MicroVmMachineDriver.ProbeBootAsync(qemu, images, "kvm", TimeSpan.FromSeconds(15), CancellationToken.None).GetAwaiter().GetResult();
            why = kvm ? "" : "a KVM probe boot did not reach the guest's init in 15 s";
        }

        yield return new PreflightCheck(driver, "accelerator", true, kvm ? "kvm (probe boot succeeded)" : $"tcg (software emulation, slow): {why}");
    }

    /// <summary>
    /// Whether KVM can run ordinary guests here: <c>/dev/kvm</c> opens, the CPU has hardware virtualisation,
    /// and the KVM is not PVM (which fails ordinary guests; sandboxes.md §2).
    /// </summary>
    /// <param name="reason">Why not, when not.</param>
    /// <returns>True when KVM is worth using.</returns>
    public static bool KvmLooksUsable(out string reason)
    {
        if (!File.Exists("/dev/kvm") || !Posix.CanWrite("/dev/kvm"))
        {
            reason = "no usable /dev/kvm";
            return false;
        }

        if (Directory.Exists("/sys/module/kvm_pvm"))
        {
            reason = "/dev/kvm is PVM (KVM without hardware virtualisation), which fails ordinary guests";
            return false;
        }

        var flags = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "" : "";
        if (!flags.Contains(" vmx", StringComparison.Ordinal) && !flags.Contains(" svm", StringComparison.Ordinal))
        {
            reason = "the CPU reports no vmx or svm";
            return false;
        }

        reason = "";
        return true;
    }

    /// <summary>The checks of the named driver, after the node's own.</summary>
    /// <param name="driver"><c>none</c>, <c>container</c>, <c>microvm</c> or <c>all</c>.</param>
    /// <param name="rootfs">The container root filesystem.</param>
    /// <param name="microVmImages">The microVM images (default: <c>vm</c> beside the rootfs).</param>
    /// <returns>The checks.</returns>
    public static IReadOnlyList<PreflightCheck> For(string driver, string rootfs, string? microVmImages = null)
    {
        var checks = new List<PreflightCheck>(Node());
        if (driver is "container" or "all")
        {
            checks.AddRange(Container(rootfs));
        }

        if (driver is "microvm" or "all")
        {
            checks.AddRange(MicroVm(microVmImages ?? Path.Combine(Path.GetDirectoryName(rootfs) ?? rootfs, "vm")));
        }

        return checks;
    }

    private static PreflightCheck Program(string driver, string name, string package)
    {
        var path = ChildProcessLauncher.FindOnPath(name);
        return path is not null
            ? new PreflightCheck(driver, name, true, path)
            : new PreflightCheck(driver, name, false, "not found", $"apt-get install {package}", package);
    }

    // Namespaces can be refused even with bwrap installed (containers without user namespaces, a sysctl).
    private static PreflightCheck BwrapProbe()
    {
        const string name = "namespaces";
        try
        {
            var info = new ProcessStartInfo(ChildProcessLauncher.FindOnPath("bwrap")!)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true" })
            {
                info.ArgumentList.Add(arg);
            }

            using var process = System.Diagnostics.Process.Start(info)!;
            var error = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return new PreflightCheck("container", name, false, "a probe sandbox did not finish in 10 s", "check that user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1)");
            }

            return process.ExitCode == 0
                ? new PreflightCheck("container", name, true, "user, pid, mount, ipc, uts, net")
                : new PreflightCheck("container", name, false, $"bwrap probe failed: {error.Trim().ReplaceLineEndings(" ")}", "enable user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new PreflightCheck("container", name, false, ex.Message, "apt-get install bubblewrap", "bubblewrap");
        }
    }
}
