using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nex.Node.Config;

/// <summary>
/// The node configuration file (<c>nex node up --config</c>), with the field names and defaults of
/// Nex 0.2 (spec §4.1). Decoded on top of the defaults: maps merge key by key.
/// </summary>
public sealed record NodeConfig
{
    /// <summary>How long the node waits for a new agent's handshake.</summary>
    [JsonPropertyName("agent_handshake_timeout_ms")]
    public int AgentHandshakeTimeoutMs { get; init; } = 5000;

    /// <summary>Timeout of each agent liveness ping.</summary>
    [JsonPropertyName("agent_ping_timeout_ms")]
    public int AgentPingTimeoutMs { get; init; } = 750;

    /// <summary>Workloads the node deploys by itself at start.</summary>
    [JsonPropertyName("autostart")]
    public Nex.Protocol.AutostartConfig? Autostart { get; init; }

    /// <summary>Where to look for helper executables (the agent). Defaults to <c>$PATH</c>.</summary>
    [JsonPropertyName("bin_path")]
    public IReadOnlyList<string>? BinPath { get; init; }

    /// <summary>0.2's Firecracker CNI settings; accepted for compatibility, unused.</summary>
    [JsonPropertyName("cni")]
    public JsonElement? Cni { get; init; }

    /// <summary>Directory holding sandbox kernel and root filesystem images.</summary>
    [JsonPropertyName("default_resource_dir")]
    public string? DefaultResourceDir { get; init; }

    /// <summary>Host services settings (spec §6.5).</summary>
    [JsonPropertyName("host_services")]
    public HostServicesConfig? HostServices { get; init; } = HostServicesConfig.Default;

    /// <summary>Address sandboxes use to reach the internal NATS server.</summary>
    [JsonPropertyName("internal_node_host")]
    public string? InternalNodeHost { get; init; }

    /// <summary>Ignored as in 0.2: the internal server always takes a free port.</summary>
    [JsonPropertyName("internal_node_port")]
    public int InternalNodePort { get; init; } = 9222;

    /// <summary>Sandbox kernel image.</summary>
    [JsonPropertyName("kernel_filepath")]
    public string? KernelFilePath { get; init; }

    /// <summary>Sandbox root filesystem image.</summary>
    [JsonPropertyName("rootfs_filepath")]
    public string? RootFsFilePath { get; init; }

    /// <summary>Number of warm agents kept ready.</summary>
    [JsonPropertyName("machine_pool_size")]
    public int MachinePoolSize { get; init; } = 1;

    /// <summary>Resources of each sandbox.</summary>
    [JsonPropertyName("machine_template")]
    public MachineTemplate MachineTemplate { get; init; } = new();

    /// <summary>Run agents as plain child processes (development only). When neither this nor
    /// <see cref="Sandbox"/> is set, the node runs without a sandbox and says so.</summary>
    [JsonPropertyName("no_sandbox")]
    public bool? NoSandbox { get; init; }

    /// <summary>Sandbox driver: one of <see cref="Machines.SandboxDrivers"/> (<c>none</c>, <c>container</c>, <c>microvm</c>; a Nex for .NET addition).</summary>
    [JsonPropertyName("sandbox")]
    public string? Sandbox { get; init; }

    /// <summary>Whether sandboxed native services may reach the node's NATS server (through a relay bound
    /// into the sandbox, at <c>nats://127.0.0.1:4222</c>); otherwise they have no network at all.</summary>
    [JsonPropertyName("sandbox_workload_nats")]
    public bool SandboxWorkloadNats { get; init; } = true;

    /// <summary>MicroVM accelerator: <c>kvm</c> or <c>tcg</c>; unset, KVM is used when the host's KVM can run ordinary guests.</summary>
    [JsonPropertyName("microvm_accelerator")]
    public string? MicroVmAccelerator { get; init; }

    /// <summary>Under TCG, restore new microVMs from a saved template VM (about 0.4 s) instead of booting each (about 4 s).</summary>
    [JsonPropertyName("microvm_snapshots")]
    public bool MicroVmSnapshots { get; init; } = true;

    /// <summary>Host user id that container sandboxes run as when the node is root (default: nobody).</summary>
    [JsonPropertyName("sandbox_uid")]
    public int SandboxUid { get; init; } = 65534;

    /// <summary>Host group id that container sandboxes run as when the node is root (default: nogroup).</summary>
    [JsonPropertyName("sandbox_gid")]
    public int SandboxGid { get; init; } = 65534;

    /// <summary>OTLP endpoint of traces (<c>grpc</c>, <c>http</c>) and metrics (<c>otlp</c>): <c>host:port</c> or a URL.</summary>
    [JsonPropertyName("otlp_exporter_url")]
    public string OtlpExporterUrl { get; init; } = "127.0.0.1:14532";

    /// <summary>Export metrics; <c>--metrics</c> turns it on.</summary>
    [JsonPropertyName("otel_metrics")]
    public bool OtelMetrics { get; init; }

    /// <summary>Port of the Prometheus endpoint; <c>--metrics_port</c> overrides it.</summary>
    [JsonPropertyName("otel_metrics_port")]
    public int OtelMetricsPort { get; init; } = 8085;

    /// <summary><c>file</c>, <c>prometheus</c> or <c>otlp</c>; <c>--otel_metrics_exporter</c> overrides it.</summary>
    [JsonPropertyName("otel_metrics_exporter")]
    public string OtelMetricsExporter { get; init; } = "file";

    /// <summary>Export traces; <c>--traces</c> turns it on.</summary>
    [JsonPropertyName("otel_traces")]
    public bool OtelTraces { get; init; }

    /// <summary><c>file</c>, <c>grpc</c> or <c>http</c>; <c>--otel_traces_exporter</c> overrides it.</summary>
    [JsonPropertyName("otel_traces_exporter")]
    public string OtelTracesExporter { get; init; } = "file";

    /// <summary>Address the Prometheus endpoint listens on: loopback unless chosen (0.2 listened on every
    /// interface); <c>0.0.0.0</c> or <c>*</c> for all (a Nex for .NET addition).</summary>
    [JsonPropertyName("otel_metrics_host")]
    public string OtelMetricsHost { get; init; } = "127.0.0.1";

    /// <summary>File the <c>file</c> metrics exporter appends JSON lines to (0.2: <c>./metrics.log</c>).</summary>
    [JsonPropertyName("otel_metrics_file")]
    public string OtelMetricsFile { get; init; } = "metrics.log";

    /// <summary>File the <c>file</c> traces exporter appends JSON lines to (0.2: <c>./traces.log</c>).</summary>
    [JsonPropertyName("otel_traces_file")]
    public string OtelTracesFile { get; init; } = "traces.log";

    /// <summary>The PID file that keeps two nodes off one host; <c>$TMPDIR/nex.pid</c> by default.</summary>
    [JsonPropertyName("pid_filepath")]
    public string? PidFilePath { get; init; }

    /// <summary>0.2 Firecracker network reset switch; accepted, unused.</summary>
    [JsonPropertyName("preserve_network")]
    public bool PreserveNetwork { get; init; }

    /// <summary>0.2 rate limiters; parsed but not applied, as in 0.2.</summary>
    [JsonPropertyName("rate_limiters")]
    public JsonElement? RateLimiters { get; init; }

    /// <summary>Node tags; merged with the defaults (<c>node_name</c>) and the effective tags.</summary>
    [JsonPropertyName("tags")]
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>Issuer allow-list; empty allows every issuer.</summary>
    [JsonPropertyName("valid_issuers")]
    public IReadOnlyList<string> ValidIssuers { get; init; } = [];

    /// <summary>Workload types this node runs: all three by default (0.2: native only, as its V8
    /// was platform-limited); an explicitly empty list means <c>["native"]</c>, as in 0.2.</summary>
    [JsonPropertyName("workload_types")]
    public IReadOnlyList<string> WorkloadTypes { get; init; } = ["native", "v8", "wasm"];

    /// <summary>Trigger subjects refused in addition to <c>$SYS.&gt;</c>, <c>$JS.&gt;</c>, <c>$NEX.&gt;</c>.</summary>
    [JsonPropertyName("deny_trigger_subjects")]
    public IReadOnlyList<string> DenyTriggerSubjects { get; init; } = [];

    /// <summary>Accept the trigger subject <c>*</c> (a first-token wildcard); off by default, since such a function
    /// answers every other workload's single-token service subject (a Nex for .NET addition). Longer ones
    /// (<c>*.foo</c>, <c>*.&gt;</c>, <c>&gt;</c>) overlap the always-denied <c>$SYS.&gt;</c> and stay refused, as do
    /// <c>$</c>/<c>_INBOX</c> subjects.</summary>
    [JsonPropertyName("allow_wildcard_triggers")]
    public bool AllowWildcardTriggers { get; init; }

    /// <summary>Admission limits; 0 means unlimited.</summary>
    [JsonPropertyName("node_limits")]
    public NodeLimits NodeLimits { get; init; } = new();

    /// <summary>Options of a public NATS server the node starts before connecting (0.2's embedded server).</summary>
    [JsonPropertyName("public_nats_server")]
    public PublicNatsServerConfig? PublicNatsServer { get; init; }

    /// <summary>File with a stable server nkey seed (<c>SN…</c>): the node id survives restarts.</summary>
    [JsonPropertyName("node_seed_file")]
    public string? NodeSeedFile { get; init; }

    /// <summary>File with a stable curve seed (<c>SX…</c>) for environment decryption.</summary>
    [JsonPropertyName("xkey_seed_file")]
    public string? XkeySeedFile { get; init; }

    /// <summary>Per-invocation time limit of functions (0.2: 5 s); a deploy may set its own.</summary>
    [JsonPropertyName("function_timeout_ms")]
    public int FunctionTimeoutMs { get; init; } = 5000;

    /// <summary>Largest accepted JavaScript source (0.2: 12 288 bytes).</summary>
    [JsonPropertyName("v8_max_source_bytes")]
    public int V8MaxSourceBytes { get; init; } = 12_288;

    /// <summary>Memory limit of one function instance (V8 heap or WASM linear memory), MiB.</summary>
    [JsonPropertyName("function_memory_mib")]
    public int FunctionMemoryMib { get; init; } = 64;

    /// <summary>Backoff of essential workload restarts (a Nex for .NET addition; 0.2 restarted at once, forever).</summary>
    [JsonPropertyName("essential_restart")]
    public EssentialRestartConfig EssentialRestart { get; init; } = new();

    /// <summary>How the node takes part in the fleet: leases, rescheduling and drain (a Nex for .NET addition).</summary>
    [JsonPropertyName("fleet")]
    public FleetConfig Fleet { get; init; } = new();

    /// <summary>The effective workload types (an empty list means native only).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> EffectiveWorkloadTypes => WorkloadTypes.Count == 0 ? ["native"] : WorkloadTypes;

    /// <summary>Why this node cannot run functions (v8, wasm) although it accepts them, or null: microVMs
    /// smaller than <see cref="Machines.MicroVm.MicroVmMachineDriver.FunctionMemoryMib"/> (measured under
    /// TCG: with 128 MiB a V8 call took 12 s and a booted VM missed its deploy timeout, the kernel, the
    /// agent and the engine's code competing for the guest's page cache).</summary>
    [JsonIgnore]
    public string? FunctionProblem =>
        EffectiveSandbox == Machines.SandboxDrivers.MicroVm.Name && MachineTemplate.MemSizeMib < Machines.MicroVm.MicroVmMachineDriver.FunctionMemoryMib
            ? $"v8 and wasm need machine_template.memsize_mib >= {Machines.MicroVm.MicroVmMachineDriver.FunctionMemoryMib} under the microvm sandbox (this node has {MachineTemplate.MemSizeMib})"
            : null;

    /// <summary>The workload types this node accepts and can run: <see cref="EffectiveWorkloadTypes"/> less
    /// the functions when <see cref="FunctionProblem"/> says so (what the node bids for in auctions).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> RunnableWorkloadTypes =>
        FunctionProblem is null ? EffectiveWorkloadTypes : [.. EffectiveWorkloadTypes.Where(t => !Nex.Protocol.WorkloadTypes.IsFunction(t))];

    /// <summary>The sandbox driver in effect: <c>sandbox</c> when set; else <c>microvm</c> for an explicit
    /// <c>no_sandbox: false</c> (0.2's Firecracker); else <c>none</c>, the development default.</summary>
    [JsonIgnore]
    public string EffectiveSandbox => Sandbox is { Length: > 0 } s ? s : NoSandbox == false ? Machines.SandboxDrivers.MicroVm.Name : Machines.SandboxDrivers.None.Name;

    /// <summary>True when agents run without a sandbox.</summary>
    [JsonIgnore]
    public bool IsNoSandbox => EffectiveSandbox == Machines.SandboxDrivers.None.Name;

    /// <summary>The PID file path in effect.</summary>
    [JsonIgnore]
    public string EffectivePidFilePath => string.IsNullOrEmpty(PidFilePath) ? Path.Combine(Path.GetTempPath(), "nex.pid") : PidFilePath;
}

/// <summary>Sandbox resources (spec §4.1 <c>machine_template</c>).</summary>
public sealed record MachineTemplate
{
    /// <summary>Virtual CPUs per sandbox.</summary>
    [JsonPropertyName("vcpu_count")]
    public int VcpuCount { get; init; } = 1;

    /// <summary>Memory per sandbox, MiB.</summary>
    [JsonPropertyName("memsize_mib")]
    public int MemSizeMib { get; init; } = 256;

    /// <summary><see cref="MemSizeMib"/> in bytes.</summary>
    [JsonIgnore]
    public long MemSizeBytes => (long)MemSizeMib * 1024 * 1024;

    /// <summary>Most tasks (processes and threads) per sandbox (container driver; a Nex for .NET addition).</summary>
    [JsonPropertyName("pids_max")]
    public int PidsMax { get; init; } = 1024;
}

/// <summary>How essential workloads are restarted after a failure: exponential backoff with jitter.</summary>
public sealed record EssentialRestartConfig
{
    /// <summary>Delay before the first restart.</summary>
    [JsonPropertyName("initial_backoff_ms")]
    public int InitialBackoffMs { get; init; } = 1000;

    /// <summary>Longest delay.</summary>
    [JsonPropertyName("max_backoff_ms")]
    public int MaxBackoffMs { get; init; } = 60_000;

    /// <summary>A run at least this long counts as healthy: the backoff starts over.</summary>
    [JsonPropertyName("reset_after_ms")]
    public int ResetAfterMs { get; init; } = 600_000;

    /// <summary>The delay before restart number <paramref name="consecutiveFailures"/> (1-based), with ±20 % jitter.</summary>
    public TimeSpan Delay(int consecutiveFailures, double random01)
    {
        var delay = Backoff.Exponential(TimeSpan.FromMilliseconds(InitialBackoffMs), TimeSpan.FromMilliseconds(MaxBackoffMs), consecutiveFailures);
        return delay * (0.8 + (0.4 * random01));
    }
}

/// <summary>The fleet's timings: how a node shows it is alive, when its workloads move elsewhere, how long a drain may take.</summary>
public sealed record FleetConfig
{
    /// <summary>How often the node renews its lease in the <c>NEX_NODES</c> bucket.</summary>
    [JsonPropertyName("heartbeat_ms")]
    public int HeartbeatMs { get; init; } = 2_000;

    /// <summary>A node whose lease was not renewed for this long counts as gone: the other nodes run its workloads.</summary>
    [JsonPropertyName("lease_grace_ms")]
    public int LeaseGraceMs { get; init; } = 10_000;

    /// <summary>How long a drain (lame duck) waits for other nodes to take its workloads before it stops the rest and the node exits.</summary>
    [JsonPropertyName("drain_timeout_ms")]
    public int DrainTimeoutMs { get; init; } = 60_000;

    /// <summary>Take over the workloads of dead or draining nodes (false: the node keeps its lease and its own
    /// workloads but never claims another node's, and other nodes never pick it).</summary>
    [JsonPropertyName("reschedule")]
    public bool Reschedule { get; init; } = true;
}

/// <summary>Admission limits (spec §1.8.2 steps 3 and 13); 0 means unlimited.</summary>
public sealed record NodeLimits
{
    /// <summary>Maximum number of deployed workloads.</summary>
    [JsonPropertyName("max_workloads")]
    public int MaxWorkloads { get; init; }

    /// <summary>Maximum sum of deployed artifact sizes, bytes.</summary>
    [JsonPropertyName("max_total_bytes")]
    public long MaxTotalBytes { get; init; }

    /// <summary>Maximum size of one artifact, bytes.</summary>
    [JsonPropertyName("max_workload_bytes")]
    public long MaxWorkloadBytes { get; init; }
}

/// <summary>Host services settings (spec §6.5).</summary>
public sealed record HostServicesConfig
{
    /// <summary>All four services enabled, node credentials.</summary>
    public static HostServicesConfig Default { get; } = new()
    {
        Services = new Dictionary<string, HostServiceSettings>
        {
            ["http"] = new(),
            ["kv"] = new(),
            ["messaging"] = new(),
            ["objectstore"] = new(),
        },
    };

    /// <summary>NATS server for host services; the main connection's when empty.</summary>
    [JsonPropertyName("nats_url")]
    public string NatsUrl { get; init; } = "";

    /// <summary>User JWT for that server.</summary>
    [JsonPropertyName("nats_user_jwt")]
    public string NatsUserJwt { get; init; } = "";

    /// <summary>User seed for that server.</summary>
    [JsonPropertyName("nats_user_seed")]
    public string NatsUserSeed { get; init; } = "";

    /// <summary>Per-service switches and settings.</summary>
    [JsonPropertyName("services")]
    public IReadOnlyDictionary<string, HostServiceSettings> Services { get; init; } = new Dictionary<string, HostServiceSettings>();
}

/// <summary>One host service's switch and raw settings.</summary>
public sealed record HostServiceSettings
{
    /// <summary>Whether the service answers.</summary>
    [JsonPropertyName("enabled")]
    public bool Enabled { get; init; } = true;

    /// <summary>Service-specific settings.</summary>
    [JsonPropertyName("config")]
    public JsonElement? Config { get; init; }
}

/// <summary>The subset of nats-server options 0.2's <c>public_nats_server</c> block is used for.</summary>
public sealed record PublicNatsServerConfig
{
    /// <summary>Server name.</summary>
    [JsonPropertyName("server_name")]
    public string? ServerName { get; init; }

    /// <summary>Bind address (Go's <c>Host</c> option).</summary>
    [JsonPropertyName("host")]
    public string? Host { get; init; }

    /// <summary>Client port.</summary>
    [JsonPropertyName("port")]
    public int Port { get; init; } = 4222;

    /// <summary>Enable JetStream.</summary>
    [JsonPropertyName("jetstream")]
    public bool JetStream { get; init; } = true;

    /// <summary>JetStream store directory.</summary>
    [JsonPropertyName("store_dir")]
    public string? StoreDir { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NodeConfig))]
internal sealed partial class NodeConfigJsonContext : JsonSerializerContext;
