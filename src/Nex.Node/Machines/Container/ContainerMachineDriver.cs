using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Node.Machines.Container;

/// <summary>What the container driver needs, resolved from the node config.</summary>
/// <param name="Rootfs">The read-only root filesystem (from <c>nex rootfs build</c>), agent included.</param>
/// <param name="RunDirectory">Where per-machine sockets live (see <see cref="Machines.RunDirectory"/>).</param>
/// <param name="Uid">Host user the sandbox runs as when the node is root.</param>
/// <param name="Gid">Host group the sandbox runs as when the node is root.</param>
/// <param name="WorkloadNats">The main NATS servers a service may reach through a relay (the first that answers), or null for none.</param>
internal sealed record ContainerSettings(string Rootfs, string RunDirectory, int Uid, int Gid, IReadOnlyList<EndPoint>? WorkloadNats);

/// <summary>
/// Container sandboxes (<c>sandbox: "container"</c>): each agent runs under bubblewrap in its own user,
/// pid, mount, ipc, uts, network and cgroup namespaces, on the read-only root filesystem that
/// <c>nex rootfs build</c> makes, with a private <c>/tmp</c>, no capabilities, no new privileges, a
/// seccomp filter, as an unprivileged host user, inside a cgroup holding the machine template's memory,
/// CPU and pids limits. Its network namespace has only loopback: NATS reaches it as unix sockets bound
/// into <c>/run/nex</c>: the agent connects through its own (<c>NEX_NODE_NATS_SOCKET</c>), and relays the
/// services' one to a loopback port (<c>NEX_RELAYS</c>, see <see cref="SocketRelay"/>).
/// </summary>
/// <remarks>
/// bubblewrap rather than runc for agents: about 8 ms per start against 45 ms (sandboxes.md), no bundle
/// to write per machine, and it runs unprivileged. runc remains the runtime for OCI images.
/// </remarks>
internal sealed partial class ContainerMachineDriver : IMachineDriver
{
    /// <summary>The agent's path inside the root filesystem.</summary>
    public const string AgentPath = "/nex/agent/nex-agent";

    /// <summary>Where our rootfs appears inside a machine whose root is an OCI image.</summary>
    public const string ImageToolsDirectory = "/.nex";

    /// <summary>Where the machine's sockets appear inside.</summary>
    public const string SocketDirectory = "/run/nex";

    /// <summary>The loopback port a service's <c>NATS_URL</c> points at inside the sandbox.</summary>
    public const int WorkloadNatsPort = 4222;

    // Only names the agent's server (its URL, in logs): the agent connects through its socket.
    private const int AgentNatsPort = 4223;

    // Joins the cgroups before anything forks, opens the seccomp program as fd 3 for bwrap, then execs
    // the rest of the command line (setpriv, bwrap) in the same process.
    private const string LaunchScript =
        "for f in $NEX_CGROUP_PROCS; do echo $$ > \"$f\" || exit 125; done; exec 3< \"$NEX_SECCOMP_FILE\" || exit 125; exec \"$@\"";

    private readonly ContainerSettings _settings;
    private readonly CgroupVersion _cgroups;
    private readonly string _seccompFile;
    private readonly string _bwrap;
    private readonly string? _setpriv;
    private readonly ILogger _logger;

    private readonly ITimer _pruneTimer;

    private ContainerMachineDriver(ContainerSettings settings, CgroupVersion cgroups, string seccompFile, string bwrap, string? setpriv, ILogger logger, TimeProvider time)
    {
        _settings = settings;
        _cgroups = cgroups;
        _seccompFile = seccompFile;
        _bwrap = bwrap;
        _setpriv = setpriv;
        _logger = logger;

        // Unpacked OCI images nobody ran for a day go: now, and every hour while the node runs.
        _pruneTimer = time.CreateTimer(_ => PruneImages(time), null, TimeSpan.Zero, TimeSpan.FromHours(1));
    }

    public string Name => SandboxDrivers.Container.Name;

    public bool SupportsImages => SandboxDrivers.Container.SupportsOciImages;

    /// <summary>Checks the host and prepares the driver.</summary>
    /// <param name="settings">Resolved settings.</param>
    /// <param name="loggers">Logging.</param>
    /// <param name="time">Clock for the image cache's pruning.</param>
    /// <returns>The driver.</returns>
    /// <exception cref="NodeStartException">Something the driver needs is missing; the message names the fix.</exception>
    public static ContainerMachineDriver Create(ContainerSettings settings, ILoggerFactory loggers, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var problems = ContainerPreflight.Checks(settings.Rootfs, (settings.Uid, settings.Gid)).Where(c => !c.Ready).ToArray();
        if (problems.Length > 0)
        {
            RunDirectory.Delete(settings.RunDirectory);
            throw new NodeStartException("the container sandbox is not ready: " + string.Join("; ", problems.Select(p => $"{p.Name}: {p.Detail} (fix: {p.Fix})")));
        }

        var cgroups = Cgroup.Detect(out _)!.Value;
        Cgroup.SweepStale(cgroups);
        var seccompFile = Path.Combine(settings.RunDirectory, "seccomp.bpf");
        SeccompFilter.Export(seccompFile);
        var root = Posix.EffectiveUserId == 0;
        return new ContainerMachineDriver(
            settings,
            cgroups,
            seccompFile,
            ChildProcessLauncher.FindOnPath("bwrap")!,
            root ? ChildProcessLauncher.FindOnPath("setpriv") : null,
            loggers.CreateLogger("Nex.Agent"),
            time);
    }

    private void PruneImages(TimeProvider time)
    {
        try
        {
            foreach (var digest in OciImageCache.Prune(OciImageCache.Directory, OciImageCache.UnusedFor, time.GetUtcNow()))
            {
                LogImagePruned(_logger, digest);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogImagePruneFailed(_logger, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed the unpacked OCI image {Digest}: unused for a day")]
    private static partial void LogImagePruned(ILogger logger, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not prune the OCI image cache: {Reason}")]
    private static partial void LogImagePruneFailed(ILogger logger, string reason);

    /// <summary>The <c>NATS_URL</c> a service inside sees for the main NATS server, or null when it has none.</summary>
    /// <param name="mainUrl">The node's own NATS URL (its credentials are kept).</param>
    /// <returns>The inside URL.</returns>
    public string? WorkloadNatsUrl(string mainUrl)
    {
        if (_settings.WorkloadNats is null)
        {
            return null;
        }

        return NatsRelays.InsideUrl(mainUrl, "127.0.0.1", WorkloadNatsPort);
    }

    public async Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var dir = Path.Combine(_settings.RunDirectory, spec.Id);
        Directory.CreateDirectory(dir);
        SocketRelay[] relays = [];
        Cgroup? cgroup = null;
        IDisposable? image = null;
        try
        {
            if (spec.ImageRoot is not null)
            {
                image = OciImageCache.Hold(spec.ImageRoot, spec.Id);
            }

            relays = await NatsRelays.StartAsync(dir, spec, _settings.WorkloadNats).ConfigureAwait(false);
            var agentRelays = _settings.WorkloadNats is null ? "" : $"127.0.0.1:{WorkloadNatsPort}={SocketDirectory}/{NatsRelays.WorkloadSocket}";

            cgroup = Cgroup.Create(_cgroups, spec.Id, new CgroupLimits(
                spec.Template.MemSizeBytes,
                Math.Max(1, spec.Template.VcpuCount),
                Math.Max(16, spec.Template.PidsMax)));

            WriteMetadata(Path.Combine(dir, "metadata.json"), spec);
            var info = BuildStartInfo(spec, dir, agentRelays, cgroup);
            var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
            await SeedHandover.WriteAsync(process, spec.UserSeed).ConfigureAwait(false);
            var group = cgroup;
            var owned = relays;
            var held = image;
            var limit = spec.Template.MemSizeBytes;
            return new AgentProcessMachine(
                spec.Id,
                process,
                wrapped: true,
                _logger,
                async () =>
                {
                    await NatsRelays.StopAsync(owned).ConfigureAwait(false);
                    held?.Dispose();
                    await group.RemoveAsync().ConfigureAwait(false);
                    Directory.Delete(dir, recursive: true);
                },
                // The cgroup's memory is what the limit is checked against (page cache included).
                tree => new MachineUsage(group.MemoryBytes ?? tree.ResidentBytes, limit, tree.CpuTime, tree.Processes));
        }
        catch
        {
            await NatsRelays.StopAsync(relays).ConfigureAwait(false);
            if (cgroup is not null)
            {
                await cgroup.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
            }

            image?.Dispose();
            throw;
        }
    }

    // The agent's identity travels in a file readable only by the sandbox user, not on a command line that
    // every host user can read in ps. Not its seed: the workload runs as the same user and could read the
    // file; the seed comes on the agent's stdin (SeedHandover).
    private void WriteMetadata(string path, MachineSpec spec)
    {
        var metadata = new Nex.Protocol.AgentMetadata
        {
            VmId = spec.Id,
            NodeNatsHost = "127.0.0.1",
            NodeNatsPort = AgentNatsPort,
            Message = "Metadata supplied by the container sandbox",
        };
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(path, options))
        {
            System.Text.Json.JsonSerializer.Serialize(file, metadata, Nex.Protocol.NexJson.Context.AgentMetadata);
        }

        if (_setpriv is not null)
        {
            Posix.Chown(path, _settings.Uid, _settings.Gid);
        }
    }

    private ProcessStartInfo BuildStartInfo(MachineSpec spec, string dir, string agentRelays, Cgroup cgroup)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        SeedHandover.Prepare(info, setEnvironment: false); // bwrap clears the environment; see BubblewrapArguments
        info.Environment.Clear();
        info.Environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        info.Environment["NEX_CGROUP_PROCS"] = string.Join(' ', cgroup.ProcsFiles);
        info.Environment["NEX_SECCOMP_FILE"] = _seccompFile;
        foreach (var arg in new[] { "-c", LaunchScript, "nex-sandbox" })
        {
            info.ArgumentList.Add(arg);
        }

        var uid = Posix.EffectiveUserId;
        var gid = uid;
        if (_setpriv is not null)
        {
            // Root node: drop to the sandbox user on the host before bwrap makes its user namespace, so
            // that nothing in the sandbox is root anywhere.
            uid = (uint)_settings.Uid;
            gid = (uint)_settings.Gid;
            foreach (var arg in new[] { _setpriv, "--reuid", uid.ToString(CultureInfo.InvariantCulture), "--regid", gid.ToString(CultureInfo.InvariantCulture), "--clear-groups", "--" })
            {
                info.ArgumentList.Add(arg);
            }
        }

        info.ArgumentList.Add(_bwrap);
        foreach (var arg in BubblewrapArguments(_settings.Rootfs, dir, spec, uid, gid, agentRelays))
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>The bwrap command line after the program name (pure; unit-tested).</summary>
    internal static IEnumerable<string> BubblewrapArguments(string rootfs, string socketDir, MachineSpec spec, uint uid, uint gid, string agentRelays)
    {
        var args = new List<string>
        {
            "--die-with-parent", "--new-session", "--as-pid-1",
            "--unshare-user", "--uid", uid.ToString(CultureInfo.InvariantCulture), "--gid", gid.ToString(CultureInfo.InvariantCulture),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
            "--hostname", spec.Id,
            "--ro-bind", spec.ImageRoot ?? rootfs, "/",
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--bind", socketDir, SocketDirectory,
            "--cap-drop", "ALL",
            "--seccomp", "3",
            "--chdir", "/tmp",
            "--clearenv",
        };

        void Env(string name, string value)
        {
            args.Add("--setenv");
            args.Add(name);
            args.Add(value);
        }

        if (spec.ImageRoot is not null)
        {
            // An OCI image is the root: our rootfs (agent, its glibc, busybox) sits beside it at /.nex, and
            // the agent runs through that glibc's loader, whatever libc the image has, or none.
            args.AddRange(["--ro-bind", rootfs, ImageToolsDirectory]);
        }

        Env("PATH", spec.ImageRoot is null ? "/usr/local/bin:/usr/bin:/bin" : $"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:{ImageToolsDirectory}/bin");
        Env("HOME", "/tmp");
        Env("TMPDIR", "/tmp");
        Env(AgentEnvironment.Sandbox, "true");
        Env(AgentEnvironment.MetadataFile, $"{SocketDirectory}/metadata.json");
        Env(AgentEnvironment.NatsSeedSource, AgentEnvironment.SeedFromStdin);
        Env(AgentEnvironment.NatsSocket, $"{SocketDirectory}/{NatsRelays.AgentSocket}");
        Env(AgentEnvironment.Relays, agentRelays);
        Env("DOTNET_gcServer", "0");
        if (spec.ImageRoot is null)
        {
            args.Add(AgentPath);
        }
        else
        {
            args.AddRange([
                $"{ImageToolsDirectory}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                "--library-path", $"{ImageToolsDirectory}/lib/x86_64-linux-gnu:{ImageToolsDirectory}/usr/lib/x86_64-linux-gnu",
                ImageToolsDirectory + AgentPath]);
        }

        return args;
    }

    public ValueTask DisposeAsync()
    {
        _pruneTimer.Dispose();
        RunDirectory.Delete(_settings.RunDirectory);
        return ValueTask.CompletedTask;
    }
}
