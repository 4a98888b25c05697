using Nex.Node.Config;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>What a new machine needs: its id and how its agent reaches the internal NATS server (spec §5.4);
/// <paramref name="ImageRoot"/>, when set, is an unpacked OCI image to use as the machine's root filesystem.</summary>
internal sealed record MachineSpec(string Id, string NatsHost, int NatsPort, string UserSeed, MachineTemplate Template, string? ImageRoot = null);

/// <summary>
/// A sandbox technology: starts machines, each running one agent. The deploy and trigger paths
/// never see which driver is in use.
/// </summary>
internal interface IMachineDriver : IAsyncDisposable
{
    /// <summary>Short name (<c>none</c>, <c>container</c>, <c>microvm</c>).</summary>
    string Name { get; }

    /// <summary>The least time a new machine's agent needs to hand-shake (a booting VM), or null for the config's.</summary>
    TimeSpan? HandshakeTimeout => null;

    /// <summary>The <c>NATS_URL</c> a native service inside a machine gets for the node's NATS server, or null when it may not reach it.</summary>
    /// <param name="mainUrl">The node's own NATS URL.</param>
    string? WorkloadNatsUrl(string mainUrl);

    /// <summary>Whether machines can take an OCI image as their root (<see cref="MachineSpec.ImageRoot"/>).</summary>
    bool SupportsImages => false;

    /// <summary>Starts a machine whose agent will hand-shake as <see cref="MachineSpec.Id"/>.</summary>
    Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken);
}

/// <summary>What a machine uses now (INFO's <c>resources</c>).</summary>
/// <param name="MemoryBytes">Memory in use: the sandbox's cgroup, the VM's QEMU process, or the agent's process tree.</param>
/// <param name="MemoryLimitBytes">The machine's memory limit, or null when it has none (no sandbox).</param>
/// <param name="CpuTime">CPU time used so far.</param>
/// <param name="Processes">Host processes embodying the machine (agent, workload, wrappers).</param>
internal sealed record MachineUsage(long MemoryBytes, long? MemoryLimitBytes, TimeSpan CpuTime, int Processes);

/// <summary>One running machine (a process, a container, a VM) with its agent.</summary>
internal interface IMachine : IAsyncDisposable
{
    /// <summary>The agent/workload id.</summary>
    string Id { get; }

    /// <summary>The host process that embodies the machine, when there is one.</summary>
    int? ProcessId { get; }

    /// <summary>Completes when the machine has gone, for whatever reason.</summary>
    Task Exited { get; }

    /// <summary>The last line the machine wrote on its error output (why it died, when it did), or null.</summary>
    string? LastError => null;

    /// <summary>What the machine uses now, or null once it has gone.</summary>
    /// <param name="processes">One snapshot of the host's processes, shared by every machine asked at the same time.</param>
    MachineUsage? ReadUsage(ProcessTable processes);

    /// <summary>Stops the machine: politely, then by force after <paramref name="grace"/>. Returns when it is gone.</summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);
}
