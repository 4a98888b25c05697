using System.Globalization;
using Nex.Processes;

namespace Nex.Node.Machines.Container;

/// <summary>Resource limits of one sandbox.</summary>
/// <param name="MemoryBytes">Memory limit (the OOM killer acts above it; no swap).</param>
/// <param name="Cpus">CPU quota in whole CPUs per scheduling period.</param>
/// <param name="Pids">Most tasks (processes and threads) at once.</param>
internal sealed record CgroupLimits(long MemoryBytes, int Cpus, int Pids);

/// <summary>
/// One sandbox's control group: cgroup v2 (<c>memory.max</c>, <c>cpu.max</c>, <c>pids.max</c>) where the
/// unified hierarchy has those controllers, else cgroup v1 (<c>memory.limit_in_bytes</c>,
/// <c>cpu.cfs_quota_us</c>, <c>pids.max</c>), as on hybrid hosts whose v2 mount holds only hugetlb.
/// A process joins by writing its pid to every <see cref="ProcsFiles"/> entry before it forks anything.
/// </summary>
internal sealed class Cgroup
{
    private const string Root = "/sys/fs/cgroup";
    private const long CpuPeriodMicros = 100_000;

    private static readonly string[] Controllers = ["memory", "cpu", "pids"];

    private readonly IReadOnlyList<string> _directories;
    private readonly TimeProvider _time;

    private Cgroup(CgroupVersion version, IReadOnlyList<string> directories, TimeProvider time)
    {
        Version = version;
        _directories = directories;
        _time = time;
        ProcsFiles = [.. directories.Select(d => Path.Combine(d, "cgroup.procs"))];
    }

    /// <summary>Which hierarchy the limits live in.</summary>
    public CgroupVersion Version { get; }

    /// <summary>The <c>cgroup.procs</c> files a member process writes its pid to (one per v1 controller).</summary>
    public IReadOnlyList<string> ProcsFiles { get; }

    /// <summary>What this host offers, or why it offers nothing usable.</summary>
    /// <param name="problem">Why no usable hierarchy exists (null when one does).</param>
    /// <returns>The version to use, or null.</returns>
    public static CgroupVersion? Detect(out string? problem)
    {
        problem = null;
        var controllers = Path.Combine(Root, "cgroup.controllers");
        if (File.Exists(controllers))
        {
            var have = File.ReadAllText(controllers).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var missing = Controllers.Where(c => !have.Contains(c)).ToArray();
            if (missing.Length == 0)
            {
                return Writable(Root, ref problem) ? CgroupVersion.V2 : null;
            }

            problem = $"cgroup v2 lacks the {string.Join(", ", missing)} controller(s)";
            return null;
        }

        foreach (var controller in Controllers)
        {
            if (!Directory.Exists(Path.Combine(Root, controller)))
            {
                problem = $"no cgroup v2 with memory, cpu and pids, and no cgroup v1 '{controller}' hierarchy under {Root}";
                return null;
            }
        }

        return Writable(Path.Combine(Root, "memory"), ref problem) ? CgroupVersion.V1 : null;
    }

    private static bool Writable(string directory, ref string? problem)
    {
        if (Posix.CanWrite(directory))
        {
            return true;
        }

        problem = $"{directory} is not writable (run the node as root, or delegate a cgroup to its user)";
        return false;
    }

    /// <summary>Creates the group <c>nex/&lt;name&gt;</c> with <paramref name="limits"/>.</summary>
    /// <param name="version">The hierarchy (from <see cref="Detect"/>).</param>
    /// <param name="name">A file-name-safe unique name (the machine id).</param>
    /// <param name="limits">The limits.</param>
    /// <param name="time">The clock of <see cref="RemoveAsync"/>'s retries; the real one by default.</param>
    /// <returns>The group.</returns>
    /// <exception cref="IOException">The kernel refused a directory or a limit.</exception>
    public static Cgroup Create(CgroupVersion version, string name, CgroupLimits limits, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(limits);
        time ??= TimeProvider.System;
        var quota = (limits.Cpus * CpuPeriodMicros).ToString(CultureInfo.InvariantCulture);
        var memory = limits.MemoryBytes.ToString(CultureInfo.InvariantCulture);
        var pids = limits.Pids.ToString(CultureInfo.InvariantCulture);
        if (version == CgroupVersion.V2)
        {
            var parent = Path.Combine(Root, "nex");
            Directory.CreateDirectory(parent);
            EnableControllers(Root);
            EnableControllers(parent);
            var dir = Path.Combine(parent, name);
            Directory.CreateDirectory(dir);
            var group = new Cgroup(version, [dir], time);
            Write(dir, "memory.max", memory);
            WriteIfPresent(dir, "memory.swap.max", "0");
            Write(dir, "cpu.max", $"{quota} {CpuPeriodMicros}");
            Write(dir, "pids.max", pids);
            return group;
        }

        var memoryDir = Path.Combine(Root, "memory", "nex", name);
        var cpuDir = Path.Combine(Root, "cpu", "nex", name);
        var pidsDir = Path.Combine(Root, "pids", "nex", name);
        foreach (var dir in new[] { memoryDir, cpuDir, pidsDir })
        {
            Directory.CreateDirectory(dir);
        }

        var v1 = new Cgroup(version, [memoryDir, cpuDir, pidsDir], time);
        Write(memoryDir, "memory.limit_in_bytes", memory);
        // With swap accounting, memory+swap gets the same limit: no swapping past the limit.
        WriteIfPresent(memoryDir, "memory.memsw.limit_in_bytes", memory);
        Write(cpuDir, "cpu.cfs_period_us", CpuPeriodMicros.ToString(CultureInfo.InvariantCulture));
        Write(cpuDir, "cpu.cfs_quota_us", quota);
        Write(pidsDir, "pids.max", pids);
        return v1;
    }

    /// <summary>Memory in use by the group's processes now, or null when unreadable.</summary>
    public long? MemoryBytes
    {
        get
        {
            var file = Version == CgroupVersion.V2 ? Path.Combine(_directories[0], "memory.current") : Path.Combine(_directories[0], "memory.usage_in_bytes");
            try
            {
                return long.Parse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    /// <summary>How many times the OOM killer acted in the group (0 when unknown).</summary>
    public long OomKills
    {
        get
        {
            var file = Path.Combine(_directories[0], Version == CgroupVersion.V2 ? "memory.events" : "memory.oom_control");
            try
            {
                foreach (var line in File.ReadLines(file))
                {
                    if (line.StartsWith("oom_kill ", StringComparison.Ordinal))
                    {
                        return long.Parse(line.AsSpan(9), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
            {
            }

            return 0;
        }
    }

    /// <summary>Kills what is left in the group and removes it; retries while the kernel still reaps.</summary>
    /// <param name="cancellationToken">Gives up early.</param>
    /// <returns>True when every directory is gone.</returns>
    public async Task<bool> RemoveAsync(CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var left = false;
            foreach (var dir in _directories.Where(Directory.Exists))
            {
                foreach (var pid in Members(dir))
                {
                    Posix.Signal(pid, Posix.SIGKILL);
                }

                try
                {
                    Directory.Delete(dir);
                }
                catch (IOException)
                {
                    left = true; // EBUSY until the last member is reaped
                }
            }

            if (!left)
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>Removes empty groups a previous node left behind (it was killed before it cleaned up).</summary>
    public static void SweepStale(CgroupVersion version)
    {
        var parents = version == CgroupVersion.V2
            ? [Path.Combine(Root, "nex")]
            : Controllers.Select(c => Path.Combine(Root, c, "nex"));
        foreach (var parent in parents.Where(Directory.Exists))
        {
            foreach (var dir in Directory.EnumerateDirectories(parent))
            {
                try
                {
                    if (Members(dir).Length == 0)
                    {
                        Directory.Delete(dir);
                    }
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private static int[] Members(string dir)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(dir, "cgroup.procs"));
        }
        catch (IOException)
        {
            return [];
        }

        return lines.Select(l => int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0).Where(p => p > 0).ToArray();
    }

    private static void EnableControllers(string dir)
    {
        var file = Path.Combine(dir, "cgroup.subtree_control");
        var enabled = File.ReadAllText(file);
        foreach (var controller in Controllers)
        {
            if (!enabled.Split(' ', StringSplitOptions.TrimEntries).Contains(controller))
            {
                File.WriteAllText(file, "+" + controller);
            }
        }
    }

    private static void Write(string dir, string file, string value)
    {
        try
        {
            File.WriteAllText(Path.Combine(dir, file), value);
        }
        catch (IOException ex)
        {
            throw new IOException($"cannot set {file} = {value} in {dir}: {ex.Message}", ex);
        }
    }

    private static void WriteIfPresent(string dir, string file, string value)
    {
        if (File.Exists(Path.Combine(dir, file)))
        {
            try
            {
                File.WriteAllText(Path.Combine(dir, file), value);
            }
            catch (IOException)
            {
                // Optional: swap accounting may be compiled in but disabled.
            }
        }
    }
}

/// <summary>A cgroup hierarchy version.</summary>
internal enum CgroupVersion
{
    /// <summary>Per-controller hierarchies.</summary>
    V1,

    /// <summary>The unified hierarchy.</summary>
    V2,
}
