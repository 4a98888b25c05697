using System.Net;
using Microsoft.Extensions.Logging;
using Nex.Node.Config;
using Nex.Node.Machines.Container;
using Nex.Node.Machines.MicroVm;

namespace Nex.Node.Machines;

/// <summary>Where a driver's preflight looks.</summary>
/// <param name="Rootfs">The container root filesystem.</param>
/// <param name="MicroVmImages">The directory with the microVM kernel, initramfs and runtime image.</param>
/// <param name="SandboxUser">The sandbox user whose reach of the images is checked; null not to check.</param>
public sealed record SandboxPreflightTarget(string Rootfs, string MicroVmImages, (int Uid, int Gid)? SandboxUser);

/// <summary>What a driver is made from when the node starts.</summary>
/// <param name="Config">The node config.</param>
/// <param name="Options">The node's options (home and image directories, clock).</param>
/// <param name="Agent">How to run the agent outside a sandbox.</param>
/// <param name="WorkloadNats">Where sandboxed services reach the node's NATS servers (the first that answers), or null when they may not.</param>
/// <param name="Loggers">Logging.</param>
internal sealed record SandboxDriverContext(NodeConfig Config, NexNodeOptions Options, AgentCommand Agent, IReadOnlyList<EndPoint>? WorkloadNats, ILoggerFactory Loggers)
{
    /// <summary>The default sandbox image directory. Not free as root (it asks as the sandbox user), so only
    /// drivers that use images ask.</summary>
    public string ImageDirectory() =>
        SandboxPreflight.DefaultImageDirectory(Config, Options.HomeDirectory, Options.HomeDirectoryExplicit, Options.SystemImageDirectory);
}

/// <summary>One sandbox technology the node can run its agents in: what the config calls it, what it needs
/// from the host, and how it starts. <see cref="IMachineDriver"/> is the running driver.</summary>
public sealed class SandboxDriver
{
    internal SandboxDriver(
        string name,
        bool isSandbox,
        bool supportsOciImages,
        bool needsVmImages,
        Func<SandboxPreflightTarget, IEnumerable<PreflightCheck>> preflight,
        Func<SandboxDriverContext, CancellationToken, Task<IMachineDriver>> createAsync)
    {
        Name = name;
        IsSandbox = isSandbox;
        SupportsOciImages = supportsOciImages;
        NeedsVmImages = needsVmImages;
        Preflight = preflight;
        CreateAsync = createAsync;
    }

    /// <summary>The name in <c>sandbox</c>, <c>nex node preflight --driver</c>, the <c>nex.sandbox</c> tag and the
    /// driver column of preflight.</summary>
    public string Name { get; }

    /// <summary>False for the driver that runs agents as plain processes (the node warns, and tags itself
    /// <c>nex.unsafe</c>).</summary>
    public bool IsSandbox { get; }

    /// <summary>Whether machines can take an OCI image as their root (<c>oci</c> workloads).</summary>
    public bool SupportsOciImages { get; }

    /// <summary>Whether it needs the microVM images (kernel, initramfs, runtime image) besides the root filesystem (what
    /// <c>nex node preflight --install</c> builds).</summary>
    public bool NeedsVmImages { get; }

    /// <summary>Its own checks of the host, after the node's.</summary>
    public Func<SandboxPreflightTarget, IEnumerable<PreflightCheck>> Preflight { get; }

    /// <summary>Checks the host and starts the driver; throws <see cref="NodeStartException"/> naming the fix when
    /// something is missing.</summary>
    internal Func<SandboxDriverContext, CancellationToken, Task<IMachineDriver>> CreateAsync { get; }
}

/// <summary>
/// Every sandbox driver, in the order preflight reports them. Config validation, node start-up, preflight and
/// the CLI's choices all read this list; nothing else names a driver.
/// </summary>
public static class SandboxDrivers
{
    /// <summary>The preflight choice that checks every driver.</summary>
    public const string AllChoice = "all";

    /// <summary>No sandbox: agents are plain child processes (development).</summary>
    public static readonly SandboxDriver None = new(
        "none",
        isSandbox: false,
        supportsOciImages: false,
        needsVmImages: false,
        _ => [],
        (context, _) => Task.FromResult<IMachineDriver>(new ProcessMachineDriver(context.Agent, context.Loggers)));

    /// <summary>bubblewrap containers with cgroup limits and a seccomp filter.</summary>
    public static readonly SandboxDriver Container = new(
        "container",
        isSandbox: true,
        supportsOciImages: true,
        needsVmImages: false,
        target => ContainerPreflight.Checks(target.Rootfs, target.SandboxUser),
        (context, _) =>
        {
            var config = context.Config;
            return Task.FromResult<IMachineDriver>(ContainerMachineDriver.Create(
                new ContainerSettings(SandboxPreflight.ContainerRootfs(config, context.ImageDirectory()), RunDirectory.Create(), config.SandboxUid, config.SandboxGid, context.WorkloadNats),
                context.Loggers,
                context.Options.Time));
        });

    /// <summary>QEMU microVMs.</summary>
    public static readonly SandboxDriver MicroVm = new(
        "microvm",
        isSandbox: true,
        supportsOciImages: false,
        needsVmImages: true,
        target => MicroVmPreflight.Checks(target.MicroVmImages, sandboxUser: target.SandboxUser),
        async (context, cancellationToken) =>
        {
            var config = context.Config;
            return await MicroVmMachineDriver.CreateAsync(
                new MicroVmSettings(SandboxPreflight.MicroVmImages(config, context.ImageDirectory()), RunDirectory.Create(), config.SandboxUid, config.SandboxGid, context.WorkloadNats, config.MicroVmAccelerator, config.MicroVmSnapshots),
                context.Loggers,
                context.Options.Time,
                cancellationToken).ConfigureAwait(false);
        });

    /// <summary>Every driver, in preflight order.</summary>
    public static IReadOnlyList<SandboxDriver> All { get; } = [None, Container, MicroVm];

    /// <summary>The names, as config errors list them: <c>none, container, microvm</c>.</summary>
    public static string NameList { get; } = string.Join(", ", All.Select(d => d.Name));

    /// <summary>What <c>nex node preflight --driver</c> accepts: every name, then <see cref="AllChoice"/>.</summary>
    public static IReadOnlyList<string> PreflightChoices { get; } = [.. All.Select(d => d.Name), AllChoice];

    /// <summary>The driver of that name (exact, case-sensitive, as the config is), or null.</summary>
    /// <param name="name">A driver's name.</param>
    /// <returns>The driver, or null.</returns>
    public static SandboxDriver? Find(string name) => All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.Ordinal));

    /// <summary>The drivers a preflight choice covers: one by name, every one for <see cref="AllChoice"/>, none
    /// for anything else.</summary>
    /// <param name="choice">A driver's name or <see cref="AllChoice"/>.</param>
    /// <returns>The drivers, in preflight order.</returns>
    public static IEnumerable<SandboxDriver> Selected(string choice) =>
        choice == AllChoice ? All : All.Where(d => string.Equals(d.Name, choice, StringComparison.Ordinal));
}
