using Nex.Processes;

namespace Nex.Node.Machines.MicroVm;

/// <summary>What the microVM driver needs from the host: QEMU, socat, the decompressors, a kernel, initramfs and
/// runtime image the sandbox user can read, and whether KVM really works.</summary>
public static class MicroVmPreflight
{
    private static readonly string[] ImageTools = ["mkfs.ext4", "debugfs"];

    /// <summary>What the microVM driver needs.</summary>
    /// <param name="images">The directory with the kernel, initramfs and runtime image.</param>
    /// <param name="probeKvm">Whether to prove KVM with a probe boot when the cheap checks pass.</param>
    /// <param name="sandboxUser">The user QEMU runs as, to check that it can read the images; null not to check.</param>
    /// <returns>The checks.</returns>
    public static IEnumerable<PreflightCheck> Checks(string images, bool probeKvm = true, (int Uid, int Gid)? sandboxUser = null)
    {
        var driver = SandboxDrivers.MicroVm.Name;
        yield return SandboxPreflight.Program(driver, "qemu-system-x86_64", "qemu-system-x86");
        yield return SandboxPreflight.Program(driver, "socat", "socat");
        foreach (var (tool, package) in new[] { ("zstd", "zstd"), ("lz4", "lz4"), ("xz", "xz-utils") })
        {
            yield return SandboxPreflight.Program(driver, tool, package);
        }

        // What builds the runtime image; in /usr/sbin, which a non-root PATH may leave out.
        foreach (var tool in ImageTools)
        {
            var check = SandboxPreflight.Program(driver, tool, "e2fsprogs");
            yield return check.Ready || VmImageBuilder.SystemTool(tool) is not { } found ? check : new PreflightCheck(driver, tool, true, found);
        }

        foreach (var name in new[] { VmImageBuilder.KernelName, VmImageBuilder.InitramfsName, VmImageBuilder.RuntimeImageName })
        {
            var path = Path.Combine(images, name);
            if (!File.Exists(path))
            {
                yield return new PreflightCheck(driver, name, false, $"{path} is missing", $"nex rootfs build --output {Path.GetDirectoryName(images)}");
            }
            else if (sandboxUser is { } user && SandboxPreflight.Unreachable(path, user.Uid, user.Gid, executable: false) is { } blocked)
            {
                yield return SandboxPreflight.ReachabilityCheck(driver, name, path, blocked, user.Uid, user.Gid);
            }
            else
            {
                yield return new PreflightCheck(driver, name, true, path);
            }
        }

        // Whether KVM really works: a probe boot, when the cheap checks pass and the images exist.
        var kvm = KvmLooksUsable(out var why);
        if (kvm && probeKvm && File.Exists(Path.Combine(images, VmImageBuilder.InitramfsName)) && ChildProcessLauncher.FindOnPath("qemu-system-x86_64") is { } qemu)
        {
            kvm = MicroVmMachineDriver.ProbeBootAsync(qemu, images, "kvm", TimeSpan.FromSeconds(15), CancellationToken.None).GetAwaiter().GetResult();
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
}
