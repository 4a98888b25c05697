namespace Nex.Bench;

/// <summary>How much to measure. <see cref="Smoke"/> is a tiny run that only proves every step works.</summary>
internal sealed record BenchSettings
{
    public static BenchSettings Full { get; } = new();

    public static BenchSettings Smoke { get; } = new()
    {
        IsSmoke = true,
        Warmup = 3,
        WarmupSeconds = 0,
        Samples = 20,
        IdleSamples = 3,
        ConcurrentSeconds = 0.2,
        CallerCounts = [1, 8],
        DeployRuns = 1,
        ControlSamples = 10,
        WorkloadCounts = [0, 2],
        PoolFill = 2,
    };

    public bool IsSmoke { get; init; }

    /// <summary>Unmeasured calls before each sequential series (at least; see <see cref="WarmupSeconds"/>).</summary>
    public int Warmup { get; init; } = 300;

    /// <summary>
    /// Unmeasured calls go on for at least this long before each sequential series: on the VMs we measure on,
    /// a request/reply loop often got about twice as fast after its first 2–3 s of calls, whatever the count.
    /// </summary>
    public double WarmupSeconds { get; init; } = 3;

    /// <summary>Measured sequential calls per series.</summary>
    public int Samples { get; init; } = 3000;

    /// <summary>Raw NATS requests measured after an idle gap, the way every deploy starts.</summary>
    public int IdleSamples { get; init; } = 200;

    /// <summary>The idle gap before each of <see cref="IdleSamples"/>, milliseconds.</summary>
    public int IdleGapMs { get; init; } = 20;

    /// <summary>How long each concurrent series runs.</summary>
    public double ConcurrentSeconds { get; init; } = 3;

    public IReadOnlyList<int> CallerCounts { get; init; } = [1, 8, 32];

    /// <summary>Warm deploys, cold deploys and stops measured per driver.</summary>
    public int DeployRuns { get; init; } = 30;

    /// <summary>PING and INFO requests per workload count.</summary>
    public int ControlSamples { get; init; } = 500;

    /// <summary>Live native workloads at which the control plane and footprint are measured.</summary>
    public IReadOnlyList<int> WorkloadCounts { get; init; } = [0, 50, 200];

    /// <summary>Size of the pool whose fill time and idle agents are measured.</summary>
    public int PoolFill { get; init; } = 20;

    /// <summary>Sandbox drivers to measure; null: every one this machine has.</summary>
    public IReadOnlyList<string>? Drivers { get; init; }

    /// <summary>Directory of the <c>nex</c> build to measure (<c>nex.dll</c> and its agent); null: the harness's own.</summary>
    public string? NodeDirectory { get; init; }

    /// <summary>Every function lane the bench knows: V8 with a fresh context per call (0.2), V8 reusing its context
    /// (<c>"function_context": "reuse"</c>), WASM.</summary>
    /// (A computed property, not an initialized one: <see cref="Smoke"/> and <see cref="Full"/> are built first.)
    public static IReadOnlyList<string> AllFunctionLanes => ["v8", "v8-reuse", "wasm"];

    /// <summary>The function lanes to measure, in this order (see <see cref="AllFunctionLanes"/>).</summary>
    public IReadOnlyList<string> FunctionLanes { get; init; } = AllFunctionLanes;

    /// <summary>Only the baseline and the function lanes: no native deploys, control plane, footprint or pool fill
    /// (for A/B runs of the function path, alternated in one window).</summary>
    public bool FunctionsOnly { get; init; }

    /// <summary>Payload of every request (bytes).</summary>
    public int PayloadBytes { get; init; } = 32;
}
