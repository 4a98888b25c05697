using System.Diagnostics;
using System.Globalization;
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
/// What sandbox drivers need from the host (<c>nex node preflight</c>, and the node before it starts a
/// driver): where the images are, whether the sandbox user can reach them, and the checks every node needs;
/// each driver's own checks are its <see cref="SandboxDriver.Preflight"/>. Cheap checks only: a probe run of
/// bwrap, file and permission tests.
/// </summary>
public static class SandboxPreflight
{
    /// <summary>Where a root node's sandbox images live by default: a directory every user can reach.</summary>
    public const string SystemImageDirectory = "/var/lib/nex/sandbox";

    /// <summary>
    /// Where <c>nex rootfs build</c> puts the sandbox images, and where the node looks for them, when no path
    /// is configured (pure; unit-tested). Not root: <c>&lt;home&gt;/sandbox</c>. Root: the sandbox runs as
    /// an unprivileged user (<c>sandbox_uid</c>) that cannot enter root's home (<c>/root</c> is 0700), so
    /// <paramref name="systemDirectory"/> (<c>/var/lib/nex/sandbox</c>), unless <c>NEX_HOME</c> was set
    /// explicitly and <c>&lt;home&gt;/sandbox</c> is reachable by that user.
    /// </summary>
    /// <param name="home">Nex's home directory.</param>
    /// <param name="homeExplicit">Whether it was chosen (<c>NEX_HOME</c>) rather than defaulted to <c>~/.nex</c>.</param>
    /// <param name="root">Whether the node runs as root (and so drops to the sandbox user).</param>
    /// <param name="reachable">Whether the sandbox user can reach a directory (its existing part).</param>
    /// <param name="systemDirectory">The root default.</param>
    /// <returns>The directory.</returns>
    public static string DefaultImageDirectory(string home, bool homeExplicit, bool root, Func<string, bool> reachable, string systemDirectory = SystemImageDirectory)
    {
        ArgumentNullException.ThrowIfNull(reachable);
        var inHome = Path.Combine(home, "sandbox");
        return !root || (homeExplicit && reachable(inHome)) ? inHome : systemDirectory;
    }

    /// <summary><see cref="DefaultImageDirectory(string, bool, bool, Func{string, bool}, string)"/> for this process and the config's sandbox user.</summary>
    /// <param name="config">The node config (its <c>sandbox_uid</c>/<c>sandbox_gid</c>).</param>
    /// <param name="home">Nex's home directory.</param>
    /// <param name="homeExplicit">Whether <c>NEX_HOME</c> chose it.</param>
    /// <param name="systemDirectory">The root default.</param>
    /// <returns>The directory.</returns>
    public static string DefaultImageDirectory(Config.NodeConfig config, string home, bool homeExplicit, string systemDirectory = SystemImageDirectory)
    {
        ArgumentNullException.ThrowIfNull(config);
        return DefaultImageDirectory(
            home,
            homeExplicit,
            Posix.EffectiveUserId == 0,
            dir => Unreachable(ExistingPart(dir), config.SandboxUid, config.SandboxGid, executable: true) is null,
            systemDirectory);
    }

    /// <summary>The container root filesystem in effect: <c>rootfs_filepath</c> when it names a directory, else <c>rootfs</c>
    /// in <c>default_resource_dir</c>, else in the default image directory.</summary>
    /// <param name="config">The node config.</param>
    /// <param name="imageDirectory">The default image directory (see <see cref="DefaultImageDirectory(Config.NodeConfig, string, bool, string)"/>).</param>
    /// <returns>The directory.</returns>
    public static string ContainerRootfs(Config.NodeConfig config, string imageDirectory)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.RootFsFilePath is { Length: > 0 } path && Directory.Exists(path)
            ? path
            : Path.Combine(config.DefaultResourceDir is { Length: > 0 } dir ? dir : imageDirectory, "rootfs");
    }

    /// <summary>
    /// Whether the sandbox user can reach <paramref name="path"/> (search every directory on the way, then read
    /// it, or execute it when <paramref name="executable"/>): null when it can, else the first path that stops it.
    /// A root node asks as that user (<c>setpriv</c>, so ACLs and every rule count); any other node's sandbox
    /// runs as itself, and <c>access(2)</c> answers.
    /// </summary>
    /// <param name="path">An absolute path.</param>
    /// <param name="uid">The sandbox user.</param>
    /// <param name="gid">The sandbox group.</param>
    /// <param name="executable">Whether it must be executable (a directory: searchable), not just readable.</param>
    /// <returns>Null, or the blocking path.</returns>
    public static string? Unreachable(string path, int uid, int gid, bool executable)
    {
        path = Path.GetFullPath(path);
        if (Posix.EffectiveUserId != 0 || uid == 0)
        {
            return Posix.CanAccess(path, executable ? 1 : 4) ? null : FirstUnsearchable(path) ?? path;
        }

        if (ChildProcessLauncher.FindOnPath("setpriv") is not { } setpriv)
        {
            return null; // preflight reports setpriv missing on its own
        }

        var info = new ProcessStartInfo(setpriv) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        var ancestors = new List<string>();
        for (var dir = Path.GetDirectoryName(path); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            ancestors.Insert(0, dir);
        }

        foreach (var arg in new[]
        {
            "--reuid", uid.ToString(CultureInfo.InvariantCulture), "--regid", gid.ToString(CultureInfo.InvariantCulture), "--clear-groups", "--",
            "/bin/sh", "-c", "t=$1; m=$2; shift 2; for d; do [ -x \"$d\" ] || { echo \"$d\"; exit 1; }; done; test $m \"$t\" || { echo \"$t\"; exit 1; }",
            "sh", path, executable ? "-x" : "-r",
        })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var dir in ancestors)
        {
            info.ArgumentList.Add(dir);
        }

        try
        {
            using var process = System.Diagnostics.Process.Start(info)!;
            var blocked = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : blocked is { Length: > 0 } ? blocked : path;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    // For a path not built yet: its deepest existing ancestor.
    private static string ExistingPart(string path)
    {
        var full = Path.GetFullPath(path);
        while (!Path.Exists(full) && Path.GetDirectoryName(full) is { } parent)
        {
            full = parent;
        }

        return full;
    }

    // Walking down from the root: the first directory we may not search is the one that stops us.
    private static string? FirstUnsearchable(string path)
    {
        var chain = new List<string>();
        for (var dir = Path.GetDirectoryName(path); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            chain.Insert(0, dir);
        }

        return chain.FirstOrDefault(d => !Posix.CanAccess(d, 1));
    }

    // One line: what cannot be reached, by whom, why, and the fix.
    internal static PreflightCheck ReachabilityCheck(string driver, string name, string path, string blocked, int uid, int gid)
    {
        var mode = !OperatingSystem.IsWindows() && Path.Exists(blocked) ? " (mode " + Convert.ToString((int)File.GetUnixFileMode(blocked), 8).PadLeft(4, '0') + ")" : "";
        var why = blocked == path ? $"{path}{mode} is not readable" : $"{blocked}{mode} is not searchable";
        return new PreflightCheck(
            driver,
            name,
            false,
            $"the sandbox user {uid}:{gid} cannot reach {path}: {why}",
            $"make it reachable (chmod o+{(blocked == path ? "r" : "x")} {blocked}), or build the images where uid {uid} can read them: nex rootfs build --output {SystemImageDirectory}, and set default_resource_dir to it");
    }

    /// <summary>What every node needs.</summary>
    /// <returns>The checks.</returns>
    public static IEnumerable<PreflightCheck> Node()
    {
        yield return Program("node", "nats-server", "nats-server");
    }

    /// <summary>The microVM image directory in effect: <c>kernel_filepath</c>'s directory when set, else <c>&lt;images&gt;/vm</c>.</summary>
    /// <param name="config">The node config.</param>
    /// <param name="imageDirectory">The default image directory (see <see cref="DefaultImageDirectory(Config.NodeConfig, string, bool, string)"/>).</param>
    /// <returns>The directory.</returns>
    public static string MicroVmImages(Config.NodeConfig config, string imageDirectory)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.KernelFilePath is { Length: > 0 } kernel
            ? Path.GetDirectoryName(Path.GetFullPath(kernel))!
            : Path.Combine(config.DefaultResourceDir is { Length: > 0 } dir ? dir : imageDirectory, "vm");
    }

    /// <summary>The checks of the named driver, after the node's own.</summary>
    /// <param name="driver">A driver's name (<see cref="SandboxDrivers"/>) or <c>all</c>.</param>
    /// <param name="rootfs">The container root filesystem.</param>
    /// <param name="microVmImages">The microVM images (default: <c>vm</c> beside the rootfs).</param>
    /// <param name="sandboxUser">The sandbox user whose reach of the images is checked; null not to check.</param>
    /// <returns>The checks.</returns>
    public static IReadOnlyList<PreflightCheck> For(string driver, string rootfs, string? microVmImages = null, (int Uid, int Gid)? sandboxUser = null)
    {
        var target = new SandboxPreflightTarget(rootfs, microVmImages ?? Path.Combine(Path.GetDirectoryName(rootfs) ?? rootfs, "vm"), sandboxUser);
        var checks = new List<PreflightCheck>(Node());
        foreach (var selected in SandboxDrivers.Selected(driver))
        {
            checks.AddRange(selected.Preflight(target));
        }

        return checks;
    }

    /// <summary>Whether a program is on the PATH, and the Debian package that brings it.</summary>
    /// <param name="driver">The driver that needs it.</param>
    /// <param name="name">The program.</param>
    /// <param name="package">Its Debian package.</param>
    /// <returns>The check.</returns>
    internal static PreflightCheck Program(string driver, string name, string package)
    {
        var path = ChildProcessLauncher.FindOnPath(name);
        return path is not null
            ? new PreflightCheck(driver, name, true, path)
            : new PreflightCheck(driver, name, false, "not found", $"apt-get install {package}", package);
    }
}
