using Nex.Node.Machines;
using Nex.Node.Machines.Container;
using Nex.Node.Machines.MicroVm;

namespace Nex.Testing;

/// <summary>
/// The container sandbox's root filesystem for tests: <c>.build/sandbox/rootfs</c>, which <c>run-tests</c>
/// builds from the NativeAOT agent in <c>.build/agent</c>; built here on first use when missing.
/// </summary>
public static class SandboxImages
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _built;

    /// <summary>Null when this host can run container sandboxes; else why not (tests skip only for a non-root run).</summary>
    public static string? NotRoot => Nex.Processes.Posix.EffectiveUserId == 0 ? null : "container sandboxes need root here (cgroups); run the suite as root";

    /// <summary>The microVM image directory (kernel, initramfs and runtime image), built if needed.</summary>
    /// <param name="cancellationToken">Cancels the build.</param>
    /// <returns>The directory.</returns>
    public static async Task<string> MicroVmAsync(CancellationToken cancellationToken)
    {
        var rootfs = await RootfsAsync(cancellationToken);
        var images = Path.Combine(Path.GetDirectoryName(rootfs)!, "vm");
        var problems = MicroVmPreflight.Checks(images).Where(c => !c.Ready).Select(c => $"{c.Name}: {c.Detail}").ToArray();
        return problems.Length == 0 ? images : throw new InvalidOperationException("this host cannot run microVMs: " + string.Join("; ", problems));
    }

    /// <summary>The root filesystem directory, built if needed.</summary>
    /// <param name="cancellationToken">Cancels the build.</param>
    /// <returns>The directory.</returns>
    public static async Task<string> RootfsAsync(CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken);
        try
        {
            if (_built is not null)
            {
                return _built;
            }

            var output = Path.Combine(Examples.RepositoryRoot, ".build", "sandbox");
            var rootfs = Path.Combine(output, "rootfs");
            if (!File.Exists(Path.Combine(rootfs, "nex", "agent", "nex-agent")) || !File.Exists(Path.Combine(output, "vm", "runtime.img")))
            {
                var agent = Path.Combine(Examples.RepositoryRoot, ".build", "agent");
                await RootfsBuilder.BuildAsync(new RootfsBuildOptions(output, agent, [], MicroVm: true), _ => { }, cancellationToken);
            }

            var problems = ContainerPreflight.Checks(rootfs).Where(c => !c.Ready).Select(c => $"{c.Name}: {c.Detail}").ToArray();
            if (problems.Length > 0)
            {
                throw new InvalidOperationException("this host cannot run container sandboxes: " + string.Join("; ", problems));
            }

            return _built = rootfs;
        }
        finally
        {
            Gate.Release();
        }
    }
}
