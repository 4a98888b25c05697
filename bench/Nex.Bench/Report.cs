namespace Nex.Bench;

/// <summary>Everything one run measured; serialised to the JSON file.</summary>
internal sealed record BenchReport
{
    public required MachineInfo Machine { get; init; }

    public required BenchSettings Settings { get; init; }

    public DateTimeOffset Started { get; init; }

    public double DurationSeconds { get; set; }

    /// <summary>Raw NATS request/reply between two connections on the same server.</summary>
    public BaselineResult? Baseline { get; set; }

    /// <summary>Function and deploy figures, one entry per sandbox driver.</summary>
    public List<DriverResult> Drivers { get; } = [];

    public List<ControlPlaneResult> ControlPlane { get; } = [];

    public FootprintResult? Footprint { get; set; }

    public List<TargetResult> Targets { get; } = [];

    /// <summary>Steps that could not run, with why.</summary>
    public List<string> Errors { get; } = [];
}

internal sealed record MachineInfo(string Cpu, int Cores, double MemoryGiB, string Kernel, string Dotnet, string NatsServer, string Agent);

/// <summary>The raw NATS figures: back to back (the RTT every ratio uses), after an idle gap, and concurrent.</summary>
internal sealed record BaselineResult(LatencyStats Sequential, LatencyStats AfterIdle, List<ConcurrentStats> Concurrent)
{
    /// <summary>Back to back, relayed once through a second server as the node relays a trigger (<see cref="RawNats"/>).</summary>
    public LatencyStats? Relayed { get; init; }

    /// <summary>The same with the relay and the echo each in a process of its own (<see cref="RawNats.ProcessFloor"/>), in blocks alternating with <see cref="Relayed"/>.</summary>
    public LatencyStats? RelayedInProcesses { get; init; }
}

internal sealed record DriverResult(string Driver)
{
    public List<FunctionResult> Functions { get; } = [];

    public DeployResult? Deploy { get; set; }
}

/// <summary>Round trips through a deployed function: client → NATS → node → agent → engine and back.</summary>
internal sealed record FunctionResult(string Kind, LatencyStats Sequential, double P50Ratio, List<ConcurrentStats> Concurrent)
{
    /// <summary>p50 of the time the agent reports for running the function itself (x-nex-runtime-ns).</summary>
    public double EngineP50Us { get; init; }

    /// <summary>p99 of the same: a tail here is inside the engine, a tail only in the round trip is outside it.</summary>
    public double EngineP99Us { get; init; }

    /// <summary>Raw NATS round trips measured in blocks alternating with this lane's sequential calls (null: not measured).</summary>
    public LatencyStats? PairedRtt { get; init; }

    /// <summary>The floor (a raw request relayed once) measured in blocks alternating with this lane's calls (null: not measured).</summary>
    public LatencyStats? PairedFloor { get; init; }

    /// <summary>The floor this lane is compared with: the one measured beside it, else the baseline's.</summary>
    public double FloorP50Us(BenchReport report) => PairedFloor?.P50Us ?? report.Baseline?.Relayed?.P50Us ?? 0;

    /// <summary>CPU time per call (µs) by process, with <see cref="Bench.CpuCallers"/> callers; null when not measured.</summary>
    public CpuSample? CpuPerCallUs { get; init; }
}

/// <summary>Native service deploys: request → run response, and request → the service's first answer.</summary>
internal sealed record DeployResult(
    LatencyStats WarmRun,
    LatencyStats WarmFirstAnswer,
    LatencyStats ColdRun,
    LatencyStats ColdFirstAnswer,
    LatencyStats Stop,
    double WarmRunP50Ratio);

internal sealed record ControlPlaneResult(int Workloads, LatencyStats Ping, LatencyStats Info);

internal sealed record FootprintResult
{
    public double NodeRssMiB { get; init; }

    public double InternalNatsRssMiB { get; init; }

    /// <summary>Mean and max RSS of idle (warm) agents.</summary>
    public double IdleAgentRssMiB { get; init; }

    public double IdleAgentRssMaxMiB { get; init; }

    public int PoolSize { get; init; }

    /// <summary>Node process start → the last pool agent warm.</summary>
    public double PoolFillFromStartSeconds { get; init; }

    /// <summary>Node answering → the last pool agent warm.</summary>
    public double PoolFillFromReadySeconds { get; init; }

    public List<WorkloadCost> PerWorkload { get; } = [];
}

/// <summary>What N live native workloads add to the whole tree (node, internal NATS, agents, services), per workload.</summary>
internal sealed record WorkloadCost(int Workloads, double TotalRssMiB, double PerWorkloadMiB, double NodeRssMiB, double AgentRssMiB, double ServiceRssMiB, double InternalNatsRssMiB, double DeployAllSeconds);

internal sealed record TargetResult(string Name, string Target, double Measured, string Unit, bool Met);
