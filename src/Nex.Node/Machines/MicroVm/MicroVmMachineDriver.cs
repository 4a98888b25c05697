using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Nex.Processes;

namespace Nex.Node.Machines.MicroVm;

/// <summary>What the microVM driver needs, resolved from the node config.</summary>
/// <param name="Images">The directory with <c>vmlinux</c>, <c>initramfs.cpio.gz</c> and <c>runtime.img</c> (from <c>nex rootfs build</c>).</param>
/// <param name="RunDirectory">Where per-VM sockets and initrds live.</param>
/// <param name="Uid">Host user QEMU runs as when the node is root.</param>
/// <param name="Gid">Host group QEMU runs as when the node is root.</param>
/// <param name="WorkloadNats">The main NATS servers a service may reach through a relay (the first that answers), or null for none.</param>
/// <param name="Accelerator"><c>kvm</c>, <c>tcg</c>, or null to probe.</param>
/// <param name="Snapshots">Restore new VMs from a saved template VM instead of booting them (TCG only).</param>
internal sealed record MicroVmSettings(string Images, string RunDirectory, int Uid, int Gid, IReadOnlyList<EndPoint>? WorkloadNats, string? Accelerator, bool Snapshots = true);

/// <summary>
/// MicroVM sandboxes (<c>sandbox: "microvm"</c>): one QEMU <c>-M microvm</c> per agent, booting Debian's
/// cloud kernel and our initramfs, with the machine template's memory and vCPUs. KVM when a probe boot
/// proves it works, else TCG (software emulation: slow, but a real VM boundary). The guest's only network
/// is QEMU's restricted user networking, whose forwards lead to the node's unix-socket relays: the
/// internal NATS server for the agent (10.0.2.100:4222) and, for services, the node's NATS server
/// (10.0.2.100:4223). Under TCG new VMs are restored from a saved template VM (about 0.35 s instead of a
/// 4 s boot); each clone gets a seed for its kernel's random pool and its metadata (id, seed) on its
/// console. A booted VM gets its metadata in a second initramfs archive. Either way the metadata crosses
/// no network and appears on no command line. QEMU runs as an unprivileged user.
/// </summary>
internal sealed partial class MicroVmMachineDriver : IMachineDriver
{
    private const string GuestRelayHost = "10.0.2.100";
    private const int GuestAgentPort = 4222;
    private const int GuestWorkloadPort = 4223;
    private const string QmpSocket = "qmp.sock";
    private const int RestoreFailuresBeforeBooting = 3;
    private static readonly TimeSpan RestoreGrace = TimeSpan.FromSeconds(10);

    private readonly MicroVmSettings _settings;
    private readonly string _qemu;
    private readonly string _socat;
    private readonly string? _setpriv;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly byte[] _initramfs;
    private readonly Dictionary<(int Memory, int Cpus), Task<string?>> _snapshots = [];
    private readonly CancellationTokenSource _disposing = new();
    private readonly Dictionary<(int Memory, int Cpus), int> _restoreFailures = [];
    private readonly (DateTime Written, long Length) _runtimeImage;
    private int _runtimeImageReplaced; // 1 once seen: VMs start from several threads, the warning goes once

    private MicroVmMachineDriver(MicroVmSettings settings, string accelerator, string qemu, string socat, string? setpriv, ILogger logger, TimeProvider time)
    {
        _time = time;
        _settings = settings;
        Accelerator = accelerator;
        _qemu = qemu;
        _socat = socat;
        _setpriv = setpriv;
        _logger = logger;
        _initramfs = File.ReadAllBytes(Path.Combine(settings.Images, VmImageBuilder.InitramfsName));
        _runtimeImage = RuntimeImageStamp();
    }

    // Which runtime image the VMs get: a rebuild (nex rootfs build) replaces the file.
    private (DateTime Written, long Length) RuntimeImageStamp()
    {
        var info = new FileInfo(Path.Combine(_settings.Images, VmImageBuilder.RuntimeImageName));
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : default;
    }

    /// <summary>The least guest memory that runs V8 and WASM functions (the node refuses a smaller template
    /// for them).</summary>
    public const int FunctionMemoryMib = 256;

    public string Name => SandboxDrivers.MicroVm.Name;

    /// <summary><c>kvm</c> or <c>tcg</c>: how guests run (reported in PING tags and node info).</summary>
    public string Accelerator { get; }

    /// <summary>A VM boots in seconds under TCG: the pool waits this long for its agent.</summary>
    public TimeSpan? HandshakeTimeout => Accelerator == "kvm" ? TimeSpan.FromSeconds(15) : TimeSpan.FromSeconds(60);

    /// <summary>Checks the host and prepares the driver.</summary>
    /// <exception cref="NodeStartException">Something is missing; the message names the fix.</exception>
    /// <param name="settings">Where the images are, who runs QEMU, how guests run.</param>
    /// <param name="loggers">Loggers.</param>
    /// <param name="time">The clock of every wait (boot probe, restore check, snapshot deadline).</param>
    /// <param name="cancellationToken">Cancels the probe.</param>
    /// <returns>The driver.</returns>
    public static async Task<MicroVmMachineDriver> CreateAsync(MicroVmSettings settings, ILoggerFactory loggers, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // The accelerator is probed below, once: not by the preflight checks as well.
        var problems = MicroVmPreflight.Checks(settings.Images, probeKvm: false, (settings.Uid, settings.Gid)).Where(c => !c.Ready).ToArray();
        if (problems.Length > 0)
        {
            RunDirectory.Delete(settings.RunDirectory);
            throw new NodeStartException("the microvm sandbox is not ready: " + string.Join("; ", problems.Select(p => $"{p.Name}: {p.Detail} (fix: {p.Fix})")));
        }

        // KVM only when a VM really boots with it (a PVM host's KVM fails ordinary guests, sandboxes.md §2).
        var qemu = ChildProcessLauncher.FindOnPath("qemu-system-x86_64")!;
        var accelerator = settings.Accelerator
            ?? (MicroVmPreflight.KvmLooksUsable(out _) && await ProbeBootAsync(qemu, settings.Images, "kvm", TimeSpan.FromSeconds(15), time, cancellationToken).ConfigureAwait(false) ? "kvm" : "tcg");
        return new MicroVmMachineDriver(
            settings,
            accelerator,
            qemu,
            ChildProcessLauncher.FindOnPath("socat")!,
            Posix.EffectiveUserId == 0 ? ChildProcessLauncher.FindOnPath("setpriv") : null,
            loggers.CreateLogger("Nex.Agent"),
            time);
    }

    public string? WorkloadNatsUrl(string mainUrl)
    {
        if (_settings.WorkloadNats is null)
        {
            return null;
        }

        return NatsRelays.InsideUrl(mainUrl, GuestRelayHost, GuestWorkloadPort);
    }

    public async Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var dir = Path.Combine(_settings.RunDirectory, spec.Id);
        Directory.CreateDirectory(dir);
        SocketRelay[] relays = [];
        try
        {
            relays = await NatsRelays.StartAsync(dir, spec, _settings.WorkloadNats).ConfigureAwait(false);

            // The shared initramfs plus this VM's metadata: the kernel unpacks concatenated archives in order.
            var metadata = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
                new Nex.Protocol.AgentMetadata
                {
                    VmId = spec.Id,
                    NodeNatsHost = GuestRelayHost,
                    NodeNatsPort = GuestAgentPort,
                    NodeNatsNkey = spec.UserSeed,
                    Message = $"Metadata supplied by the microvm sandbox ({Accelerator})",
                },
                Nex.Protocol.NexJson.Context.AgentMetadata);
            var snapshot = await SnapshotAsync(spec.Template, cancellationToken).ConfigureAwait(false);
            Process process;
            if (snapshot is not null)
            {
                // A clone of the template, which waits on its console for a seed for the kernel's random
                // pool and this VM's metadata (echo off: neither comes back as a log line). QEMU, as the
                // sandbox user, makes its control socket in the machine's directory.
                if (_setpriv is not null)
                {
                    Posix.Chown(dir, _settings.Uid, _settings.Gid);
                }

                process = await ChildProcessLauncher.StartAsync(BuildStartInfo(spec, dir, snapshot)).ConfigureAwait(false);
                _ = WatchRestoreAsync(process, spec.Template, Path.Combine(dir, QmpSocket));
                var seed = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(64));
                await process.StandardInput.WriteAsync($"{seed}\n{System.Text.Encoding.UTF8.GetString(metadata)}\n".AsMemory(), cancellationToken).ConfigureAwait(false);
                await process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var initrd = Path.Combine(dir, "initrd");
                await using (var file = new FileStream(initrd, FileMode.Create, FileAccess.Write))
                {
                    await file.WriteAsync(_initramfs, cancellationToken).ConfigureAwait(false);
                    await file.WriteAsync(VmImageBuilder.MetadataArchive(metadata), cancellationToken).ConfigureAwait(false);
                }

                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(initrd, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                    if (_setpriv is not null)
                    {
                        Posix.Chown(initrd, _settings.Uid, _settings.Gid);
                    }
                }

                process = await ChildProcessLauncher.StartAsync(BuildStartInfo(spec, dir)).ConfigureAwait(false);
            }

            var owned = relays;
            var limit = (long)VmMemoryMib(spec.Template) * 1024 * 1024;
            return new AgentProcessMachine(
                spec.Id,
                process,
                wrapped: false,
                _logger,
                async () =>
                {
                    await NatsRelays.StopAsync(owned).ConfigureAwait(false);
                    Directory.Delete(dir, recursive: true);
                },
                // QEMU's resident memory is the guest's RAM as touched so far (plus QEMU itself); the
                // guest never gets more than the template's memory.
                tree => new MachineUsage(tree.ResidentBytes, limit, tree.CpuTime, tree.Processes),
                _time);
        }
        catch
        {
            await NatsRelays.StopAsync(relays).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The saved state of a template VM for this memory and vCPU count, made on first use (a boot and a save,
    /// about 6 s under TCG), or null to boot each VM: under KVM a boot is already fast and this host kind
    /// cannot test restores with it, and a template that fails falls back to booting.
    /// </summary>
    private Task<string?> SnapshotAsync(Config.MachineTemplate template, CancellationToken cancellationToken)
    {
        if (Accelerator != "tcg" || !_settings.Snapshots || RuntimeImageReplaced())
        {
            return Task.FromResult<string?>(null);
        }

        var key = SnapshotKey(template);
        lock (_snapshots)
        {
            if (!_snapshots.TryGetValue(key, out var task))
            {
                // Not tied to the first caller's cancellation: every later machine waits for the same one.
                _snapshots[key] = task = CreateSnapshotAsync(template, key.Memory, key.Cpus);
            }

            return task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Whether the runtime image was replaced since the node started: a template's guest caches pages of the
    /// image it booted with, so its clones must not run on another; new VMs boot (with the new image) instead.
    /// </summary>
    private bool RuntimeImageReplaced()
    {
        if (Volatile.Read(ref _runtimeImageReplaced) == 1)
        {
            return true;
        }

        if (RuntimeImageStamp() == _runtimeImage)
        {
            return false;
        }

        if (Interlocked.Exchange(ref _runtimeImageReplaced, 1) == 0)
        {
            LogRuntimeImageReplaced(_logger, Path.Combine(_settings.Images, VmImageBuilder.RuntimeImageName));
        }

        return true;
    }

    /// <summary>
    /// A clone that is not running <see cref="RestoreGrace"/> after it started could not load the state (a
    /// damaged file leaves QEMU waiting, not exiting): it is killed, and after
    /// <see cref="RestoreFailuresBeforeBooting"/> of those in a row the template's VMs boot instead.
    /// </summary>
    private async Task WatchRestoreAsync(Process process, Config.MachineTemplate template, string qmpSocket)
    {
        string status;
        try
        {
            await Task.Delay(RestoreGrace, _time, _disposing.Token).ConfigureAwait(false);
            if (process.HasExited)
            {
                return; // stopped or killed meanwhile: nothing to learn
            }

            using var expiry = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token, expiry.Token);
            status = await Qmp.StatusAsync(qmpSocket, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or InvalidOperationException)
        {
            return;
        }

        var key = SnapshotKey(template);
        var failed = status != "running";
        lock (_snapshots)
        {
            var failures = failed ? _restoreFailures.GetValueOrDefault(key) + 1 : 0;
            _restoreFailures[key] = failures;
            if (failures == RestoreFailuresBeforeBooting)
            {
                _snapshots[key] = Task.FromResult<string?>(null);
                LogSnapshotFailed(_logger, key.Memory, key.Cpus, $"{failures} clones in a row could not restore it");
            }
        }

        if (failed)
        {
            Posix.Signal(process.Id, Posix.SIGKILL); // its machine ends; the pool starts another
        }
    }

    private static (int Memory, int Cpus) SnapshotKey(Config.MachineTemplate template) =>
        (VmMemoryMib(template), VmCpus(template));

    // What a VM gets: at least 128 MiB (the kernel and the initramfs's rootfs must fit) and one vCPU.
    private static int VmMemoryMib(Config.MachineTemplate template) => Math.Max(128, template.MemSizeMib);

    private static int VmCpus(Config.MachineTemplate template) => Math.Max(1, template.VcpuCount);

    // Never throws: any failure is logged and means "boot instead".
    private async Task<string?> CreateSnapshotAsync(Config.MachineTemplate template, int memory, int cpus)
    {
        var dir = Path.Combine(_settings.RunDirectory, $"snapshot-{memory}-{cpus}");
        var state = Path.Combine(dir, "state");
        var started = _time.GetTimestamp();
        Process? process = null;
        using var expiry = new CancellationTokenSource(HandshakeTimeout ?? TimeSpan.FromSeconds(60), _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_disposing.Token, expiry.Token);
        try
        {
            Directory.CreateDirectory(dir);
            if (_setpriv is not null)
            {
                Posix.Chown(dir, _settings.Uid, _settings.Gid); // QEMU, as the sandbox user, writes the state here
            }

            var spec = new MachineSpec("snapshot", "127.0.0.1", 0, "", template);
            process = await ChildProcessLauncher.StartAsync(BuildStartInfo(spec, dir, snapshot: "")).ConfigureAwait(false);
            while (await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false) is { } line)
            {
                if (line.Contains(VmImageBuilder.SnapshotMarker, StringComparison.Ordinal))
                {
                    // Saved while it runs (a VM stopped first would be restored stopped); it only waits on its console.
                    await Qmp.SaveAsync(Path.Combine(dir, QmpSocket), state, _time, deadline.Token).ConfigureAwait(false);
                    var megabytes = new FileInfo(state).Length / (1024 * 1024);
                    var seconds = _time.GetElapsedTime(started).TotalSeconds;
                    LogSnapshotSaved(_logger, memory, cpus, seconds, megabytes);
                    return state;
                }
            }

            LogSnapshotFailed(_logger, memory, cpus, "the template VM exited before it was ready");
        }
        catch (OperationCanceledException)
        {
            LogSnapshotFailed(_logger, memory, cpus, _disposing.IsCancellationRequested ? "the node is stopping" : "the template VM was not ready in time");
        }
        catch (Exception ex)
        {
            LogSnapshotFailed(_logger, memory, cpus, ex.Message);
        }
        finally
        {
            if (process is not null)
            {
                await ProcessTree.TerminateAsync(process, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                process.Dispose();
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MicroVM snapshot for {Memory} MiB and {Cpus} vCPU saved in {Seconds:0.0} s ({Megabytes} MiB); new VMs are restored from it")]
    private static partial void LogSnapshotSaved(ILogger logger, int memory, int cpus, double seconds, long megabytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The microVM runtime image {Path} was replaced since the node started; new VMs boot with it instead of restoring snapshots (restart the node to restore again)")]
    private static partial void LogRuntimeImageReplaced(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No microVM snapshot for {Memory} MiB and {Cpus} vCPU ({Reason}); new VMs boot instead")]
    private static partial void LogSnapshotFailed(ILogger logger, int memory, int cpus, string reason);

    private ProcessStartInfo BuildStartInfo(MachineSpec spec, string dir, string? snapshot = null)
    {
        var info = new ProcessStartInfo(_setpriv ?? _qemu)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // the serial console's input: nothing, never the node's stdin
        };
        if (_setpriv is not null)
        {
            foreach (var arg in new[] { "--reuid", _settings.Uid.ToString(CultureInfo.InvariantCulture), "--regid", _settings.Gid.ToString(CultureInfo.InvariantCulture), "--clear-groups", "--", _qemu })
            {
                info.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in QemuArguments(spec, dir, Accelerator, _settings.Images, _socat, _settings.WorkloadNats is not null, snapshot))
        {
            info.ArgumentList.Add(arg);
        }

        return info;
    }

    /// <summary>Boots the images with <paramref name="accelerator"/> and no network, to the initramfs's probe marker.</summary>
    /// <param name="qemu">The QEMU binary.</param>
    /// <param name="images">The image directory.</param>
    /// <param name="accelerator"><c>kvm</c> or <c>tcg</c>.</param>
    /// <param name="timeout">How long the boot may take (a failing KVM guest pauses instead of exiting).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>True when the guest reached its init.</returns>
    public static Task<bool> ProbeBootAsync(string qemu, string images, string accelerator, TimeSpan timeout, CancellationToken cancellationToken) =>
        ProbeBootAsync(qemu, images, accelerator, timeout, TimeProvider.System, cancellationToken);

    /// <summary>Whether a VM boots with <paramref name="accelerator"/>, <paramref name="timeout"/> measured on <paramref name="time"/>.</summary>
    /// <param name="qemu">The QEMU binary.</param>
    /// <param name="images">The image directory.</param>
    /// <param name="accelerator"><c>kvm</c> or <c>tcg</c>.</param>
    /// <param name="timeout">How long the boot may take.</param>
    /// <param name="time">The clock of the timeout.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>True when the guest reached its init.</returns>
    public static async Task<bool> ProbeBootAsync(string qemu, string images, string accelerator, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(qemu) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in new[]
        {
            "-M", "microvm", "-accel", accelerator, "-cpu", accelerator == "kvm" ? "host" : "max", "-m", "256", "-no-reboot",
            "-display", "none", "-nodefaults", "-serial", "stdio",
            "-kernel", Path.Combine(images, VmImageBuilder.KernelName), "-initrd", Path.Combine(images, VmImageBuilder.InitramfsName),
            "-append", "console=ttyS0 quiet panic=-1 tsc_early_khz=2400000 random.trust_cpu=on nex.probe",
        })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
        using var expiry = new CancellationTokenSource(timeout, time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false) is { } line)
            {
                if (line.Contains(VmImageBuilder.ProbeMarker, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        finally
        {
            await ProcessTree.TerminateAsync(process, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The QEMU command line (pure; unit-tested).</summary>
    /// <param name="spec">The machine.</param>
    /// <param name="dir">Its run directory (relay sockets, initrd).</param>
    /// <param name="accelerator"><c>kvm</c> or <c>tcg</c>.</param>
    /// <param name="images">The image directory.</param>
    /// <param name="socat">The socat binary for the forwards.</param>
    /// <param name="workloadNats">Whether services get the second forward.</param>
    /// <param name="snapshot">Null: boot with the per-VM initrd. Otherwise the shared initramfs in snapshot
    /// mode, restored from this state file, or (empty string) booted as the template the state is saved from.</param>
    internal static IEnumerable<string> QemuArguments(MachineSpec spec, string dir, string accelerator, string images, string socat, bool workloadNats, string? snapshot = null)
    {
        var netdev = $"user,id=n0,restrict=on,guestfwd=tcp:{GuestRelayHost}:{GuestAgentPort}-cmd:{socat} - UNIX-CONNECT:{Path.Combine(dir, NatsRelays.AgentSocket)}";
        if (workloadNats)
        {
            netdev += $",guestfwd=tcp:{GuestRelayHost}:{GuestWorkloadPort}-cmd:{socat} - UNIX-CONNECT:{Path.Combine(dir, NatsRelays.WorkloadSocket)}";
        }

        // tsc_early_khz: without it most TCG boots hang calibrating; trust_cpu: .NET waits for entropy otherwise.
        const string Append = "console=ttyS0 quiet panic=-1 tsc_early_khz=2400000 random.trust_cpu=on";
        string[] mode = snapshot is null
            ? ["-initrd", Path.Combine(dir, "initrd"), "-append", Append]
            : [
                "-initrd", Path.Combine(images, VmImageBuilder.InitramfsName),
                "-append", $"{Append} {VmImageBuilder.SnapshotArgument}",
                .. snapshot.Length > 0 ? ["-incoming", $"exec:cat {snapshot}"] : Array.Empty<string>(),
                "-qmp", $"unix:{Path.Combine(dir, QmpSocket)},server=on,wait=off",
            ];
        return
        [
            "-M", "microvm",
            "-accel", accelerator,
            "-cpu", accelerator == "kvm" ? "host" : "max",
            "-m", VmMemoryMib(spec.Template).ToString(CultureInfo.InvariantCulture),
            "-smp", VmCpus(spec.Template).ToString(CultureInfo.InvariantCulture),
            "-no-reboot", "-display", "none", "-nodefaults", "-serial", "stdio",
            "-kernel", Path.Combine(images, VmImageBuilder.KernelName),
            .. mode,
            // The runtime image (agent, V8, Wasmtime), read-only and shared by every VM; the same device, in the
            // same place on the virtio-mmio bus, for the template and its clones (a restore needs the same machine).
            "-drive", $"file={Path.Combine(images, VmImageBuilder.RuntimeImageName)},if=none,id=rt,format=raw,readonly=on",
            "-device", "virtio-blk-device,drive=rt",
            "-netdev", netdev,
            "-device", "virtio-net-device,netdev=n0",
        ];
    }

    public async ValueTask DisposeAsync()
    {
        // A template VM still booting or saving is stopped before its directory goes.
        await _disposing.CancelAsync().ConfigureAwait(false);
        Task<string?>[] pending;
        lock (_snapshots)
        {
            pending = [.. _snapshots.Values];
        }

        await Task.WhenAll(pending).ConfigureAwait(false); // each ends with null on failure, never throws
        _disposing.Dispose();
        RunDirectory.Delete(_settings.RunDirectory);
    }
}
