using System.Diagnostics;
using System.Runtime.InteropServices;
using Nex.Processes;

namespace Nex.Node.Machines.Container;

/// <summary>What the container driver needs from the host: bubblewrap that can make namespaces, cgroups,
/// libseccomp, and a root filesystem with the agent that the sandbox user can reach.</summary>
public static class ContainerPreflight
{
    /// <summary>What the container driver needs.</summary>
    /// <param name="rootfs">The root filesystem it would use.</param>
    /// <param name="sandboxUser">The sandbox user (<c>sandbox_uid</c>, <c>sandbox_gid</c>), to check that it can reach the
    /// root filesystem; null not to check.</param>
    /// <returns>The checks.</returns>
    public static IEnumerable<PreflightCheck> Checks(string rootfs, (int Uid, int Gid)? sandboxUser = null)
    {
        var driver = SandboxDrivers.Container.Name;
        var bwrap = SandboxPreflight.Program(driver, "bwrap", "bubblewrap");
        yield return bwrap;
        if (bwrap.Ready)
        {
            yield return BwrapProbe();
        }

        if (Posix.EffectiveUserId == 0)
        {
            yield return SandboxPreflight.Program(driver, "setpriv", "util-linux");
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
        if (!File.Exists(agent))
        {
            yield return new PreflightCheck(driver, "root filesystem", false, $"no agent at {agent}", $"nex rootfs build --output {Path.GetDirectoryName(rootfs)}");
        }
        else if (sandboxUser is { } user && SandboxPreflight.Unreachable(agent, user.Uid, user.Gid, executable: true) is { } blocked)
        {
            // bwrap binds the rootfs as the sandbox user: what that user cannot reach, no agent starts from.
            yield return SandboxPreflight.ReachabilityCheck(driver, "root filesystem", agent, blocked, user.Uid, user.Gid);
        }
        else
        {
            yield return new PreflightCheck(driver, "root filesystem", true, rootfs);
        }
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

            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return new PreflightCheck(SandboxDrivers.Container.Name, name, false, "a probe sandbox did not finish in 10 s", "check that user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1)");
            }

            return process.ExitCode == 0
                ? new PreflightCheck(SandboxDrivers.Container.Name, name, true, "user, pid, mount, ipc, uts, net")
                : new PreflightCheck(SandboxDrivers.Container.Name, name, false, $"bwrap probe failed: {error.Trim().ReplaceLineEndings(" ")}", "enable user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new PreflightCheck(SandboxDrivers.Container.Name, name, false, ex.Message, "apt-get install bubblewrap", "bubblewrap");
        }
    }
}
