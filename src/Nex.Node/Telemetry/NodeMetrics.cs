using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Nex.Node.Telemetry;

/// <summary>What one running workload's machine uses, for the per-workload gauges.</summary>
internal readonly record struct WorkloadUsageSample(string Namespace, string Name, string Id, long MemoryBytes, double CpuSeconds);

/// <summary>
/// The node's instruments (README, Metrics and traces), recorded where the events happen through these methods.
/// 0.2's instruments keep their names, kinds and attribute sets (spec §10.1), including recording each event once
/// per attribute set (total, by namespace, by workload name); unlike 0.2 every stop decrements them. Each node
/// has its own <see cref="Meter"/>, so two nodes in one process (tests) do not report each other's workloads.
/// Nobody listens unless the node exports metrics: an instrument without a listener costs a branch, and the
/// attributes are passed as structs, so recording allocates nothing either way.
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    private const string Namespace = "namespace";
    private const string WorkloadName = "workload_name";
    private const string WorkloadType = "workload_type";

    private readonly UpDownCounter<long> _vmCount;
    private readonly UpDownCounter<long> _workloadCount;
    private readonly UpDownCounter<long> _deployedBytes;
    private readonly UpDownCounter<long> _memoryMib;
    private readonly UpDownCounter<long> _vcpus;
    private readonly Counter<long> _triggers;
    private readonly Counter<long> _failedTriggers;
    private readonly Counter<long> _runtimeNanos;
    private readonly Counter<long> _deploys;
    private readonly Counter<long> _deployFailures;
    private readonly Counter<long> _stops;
    private readonly Counter<long> _calls;
    private readonly Counter<long> _callErrors;
    private readonly Histogram<double> _callDuration;
    private readonly Counter<long> _hostCalls;
    private readonly Counter<long> _hostFailures;
    private readonly Counter<long> _agentStarts;
    private readonly Counter<long> _agentStartFailures;
    private readonly Histogram<double> _sandboxStart;
    private readonly KeyValuePair<string, object?> _driver;
    private readonly bool _sandboxed;

    /// <summary>Creates the node's meter and instruments.</summary>
    /// <param name="sandboxDriver">The sandbox driver (<c>none</c>, <c>container</c>, <c>microvm</c>).</param>
    public NodeMetrics(string sandboxDriver)
    {
        _driver = new("driver", sandboxDriver);
        _sandboxed = sandboxDriver != Machines.SandboxDrivers.None.Name;
        Meter = new Meter(TelemetryNames.Meter, NexVersion.Current);

        // 0.2's (spec §10.1). Their units are annotations ({…}), which Prometheus drops: the names already say the
        // unit, and a unit suffix would change the names 0.2's dashboards query.
        _vmCount = Meter.CreateUpDownCounter<long>("nex-vm-count", "{machine}", "Machines running a workload");
        _workloadCount = Meter.CreateUpDownCounter<long>("nex-workload-count", "{workload}", "Workloads running");
        _deployedBytes = Meter.CreateUpDownCounter<long>("nex-deployed-bytes-count", "{byte}", "Artifact bytes of the workloads running");
        _memoryMib = Meter.CreateUpDownCounter<long>("nex-total-memory-allocation-mib-count", "{MiB}", "Memory limits of the sandboxes running a workload");
        _vcpus = Meter.CreateUpDownCounter<long>("nex-total-vcpu-allocation-count", "{vcpu}", "vCPUs of the sandboxes running a workload");
        _triggers = Meter.CreateCounter<long>("nex-function-trigger", "{call}", "Function calls that succeeded");
        _failedTriggers = Meter.CreateCounter<long>("nex-function-failed-trigger", "{call}", "Function calls that failed");
        _runtimeNanos = Meter.CreateCounter<long>("nex-function-runtime-nanosec", "{nanosecond}", "Run time of the function calls that succeeded, as the agent measured it");

        // Nex for .NET's.
        _deploys = Meter.CreateCounter<long>("nex-workload-deploys", "{deploy}", "Deploy requests that started a workload");
        _deployFailures = Meter.CreateCounter<long>("nex-workload-deploy-failures", "{deploy}", "Deploy requests refused or failed, by reason");
        _stops = Meter.CreateCounter<long>("nex-workload-stops", "{workload}", "Workloads that ended, by reason");
        _calls = Meter.CreateCounter<long>("nex-function-calls", "{call}", "Function calls relayed, answered or not");
        _callErrors = Meter.CreateCounter<long>("nex-function-errors", "{call}", "Function calls that failed (threw, timed out, no agent)");
        _callDuration = Meter.CreateHistogram<double>(
            "nex-function-call-duration",
            "s",
            "Round trip of a function call through the node (relay to the agent and back)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _hostCalls = Meter.CreateCounter<long>("nex-host-service-calls", "{call}", "Host-service calls of functions, by service");
        _hostFailures = Meter.CreateCounter<long>("nex-host-service-failures", "{call}", "Host-service calls answered with an error code, by service and code");
        _agentStarts = Meter.CreateCounter<long>("nex-agent-starts", "{agent}", "Agents started and hand-shaken");
        _agentStartFailures = Meter.CreateCounter<long>("nex-agent-start-failures", "{agent}", "Agent starts that failed");
        _sandboxStart = Meter.CreateHistogram<double>(
            "nex-sandbox-start-duration",
            "s",
            "Time from starting a machine to its agent's first answered ping",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        Meter.CreateObservableGauge("nex-warm-agents", () => WarmAgents?.Invoke() ?? 0, "{agent}", "Hand-shaken agents waiting in the warm pool");
        Meter.CreateObservableGauge("nex-workload-memory", ObserveMemory, "By", "Memory in use by each workload's machine");
        Meter.CreateObservableCounter("nex-workload-cpu-time", ObserveCpu, "s", "CPU time used by each workload's machine");
        Meter.CreateObservableCounter("nex-internal-nats-restarts", () => InternalNatsRestarts?.Invoke() ?? 0, "{restart}", "Restarts of the internal NATS server after it died");
        Meter.CreateObservableCounter("nex-internal-nats-reloads", () => InternalNatsReloads?.Invoke() ?? 0, "{reload}", "Configuration reloads of the internal NATS server (an agent added or removed)");
    }

    /// <summary>The node's meter (named <see cref="TelemetryNames.Meter"/>).</summary>
    public Meter Meter { get; }

    /// <summary>Reads the warm pool's size (set by the workload manager).</summary>
    public Func<int>? WarmAgents { get; set; }

    /// <summary>Reads each running workload's usage (set by the workload manager; called only when collected).</summary>
    public Func<IEnumerable<WorkloadUsageSample>>? WorkloadUsage { get; set; }

    /// <summary>Reads the internal server's restarts so far.</summary>
    public Func<long>? InternalNatsRestarts { get; set; }

    /// <summary>Reads the internal server's reloads so far.</summary>
    public Func<long>? InternalNatsReloads { get; set; }

    /// <summary>A deploy request started a workload.</summary>
    public void Deployed(string ns, string type) =>
        _deploys.Add(1, new(Namespace, ns), new(WorkloadType, type));

    /// <summary>A deploy request was refused or failed; <paramref name="reason"/> is a class, not a message.</summary>
    public void DeployFailed(string ns, string type, string reason) =>
        _deployFailures.Add(1, new(Namespace, ns), new(WorkloadType, type), new("reason", reason));

    /// <summary>A workload now runs (counted once, by <see cref="Workloads.RunningWorkload"/>).</summary>
    public void WorkloadStarted(string ns, string type, long bytes, Config.MachineTemplate template) =>
        ChangeRunning(ns, type, bytes, template, +1);

    /// <summary>A counted workload ended; <paramref name="reason"/> is how (stopped, exited, agent_lost, …).</summary>
    public void WorkloadEnded(string ns, string type, long bytes, Config.MachineTemplate template, string reason)
    {
        ChangeRunning(ns, type, bytes, template, -1);
        _stops.Add(1, new(Namespace, ns), new(WorkloadType, type), new("reason", reason));
    }

    /// <summary>A function call ended (node round trip <paramref name="elapsed"/>); <paramref name="runtimeNanos"/> is the
    /// agent's measure of a successful call.</summary>
    public void FunctionCalled(in WorkloadTags tags, TimeSpan elapsed, bool failed, long runtimeNanos)
    {
        _calls.Add(1, tags.Namespace, tags.Name);
        _callDuration.Record(elapsed.TotalSeconds, tags.Namespace, tags.Name);
        if (failed)
        {
            _callErrors.Add(1, tags.Namespace, tags.Name);
            AddThrice(_failedTriggers, 1, tags);
        }
        else
        {
            AddThrice(_triggers, 1, tags);
            AddThrice(_runtimeNanos, runtimeNanos, tags);
        }
    }

    /// <summary>A function's host-service call was answered with <paramref name="code"/> (HTTP-like).</summary>
    public void HostServiceCalled(in WorkloadTags tags, string service, int code)
    {
        // The service comes from the agent's subject: only known names become attribute values.
        var serviceTag = new KeyValuePair<string, object?>("service", service is "kv" or "objectstore" or "messaging" or "http" ? service : "other");
        _hostCalls.Add(1, tags.Namespace, tags.Name, serviceTag);
        if (code >= 400 && _hostFailures.Enabled) // the code would be boxed even with nobody listening
        {
            _hostFailures.Add(1, new TagList { tags.Namespace, tags.Name, serviceTag, new("code", code) });
        }
    }

    /// <summary>An agent started and answered its first ping after <paramref name="elapsed"/>.</summary>
    public void AgentStarted(TimeSpan elapsed)
    {
        _agentStarts.Add(1, _driver);
        _sandboxStart.Record(elapsed.TotalSeconds, _driver);
    }

    /// <summary>An agent failed to start.</summary>
    public void AgentStartFailed() => _agentStartFailures.Add(1, _driver);

    /// <summary>Ends the meter's instruments (the node stopped).</summary>
    public void Dispose() => Meter.Dispose();

    private void ChangeRunning(string ns, string type, long bytes, Config.MachineTemplate template, int sign)
    {
        var nsTag = new KeyValuePair<string, object?>(Namespace, ns);
        var typeTag = new KeyValuePair<string, object?>(WorkloadType, type);
        _vmCount.Add(sign);
        _workloadCount.Add(sign, typeTag);
        _workloadCount.Add(sign, nsTag, typeTag);
        _deployedBytes.Add(sign * bytes);
        _deployedBytes.Add(sign * bytes, nsTag);

        // Limits only mean something where a sandbox applies them.
        if (_sandboxed)
        {
            _memoryMib.Add(sign * template.MemSizeMib);
            _memoryMib.Add(sign * template.MemSizeMib, nsTag);
            _vcpus.Add(sign * template.VcpuCount);
            _vcpus.Add(sign * template.VcpuCount, nsTag);
        }
    }

    // 0.2 records its function counters once without attributes, once by namespace and once by workload name.
    private static void AddThrice(Counter<long> counter, long value, in WorkloadTags tags)
    {
        counter.Add(value);
        counter.Add(value, tags.Namespace);
        counter.Add(value, tags.Name);
    }

    private IEnumerable<Measurement<long>> ObserveMemory() =>
        (WorkloadUsage?.Invoke() ?? []).Select(u => new Measurement<long>(u.MemoryBytes, Attributes(u)));

    private IEnumerable<Measurement<double>> ObserveCpu() =>
        (WorkloadUsage?.Invoke() ?? []).Select(u => new Measurement<double>(u.CpuSeconds, Attributes(u)));

    private static KeyValuePair<string, object?>[] Attributes(WorkloadUsageSample usage) =>
        [new(Namespace, usage.Namespace), new(WorkloadName, usage.Name), new("workload_id", usage.Id)];
}

/// <summary>A workload's attributes, made once per workload so that recording a call builds none.</summary>
internal readonly struct WorkloadTags(string ns, string name)
{
    /// <summary><c>namespace</c>.</summary>
    public KeyValuePair<string, object?> Namespace { get; } = new("namespace", ns);

    /// <summary><c>workload_name</c> (0.2's attribute name).</summary>
    public KeyValuePair<string, object?> Name { get; } = new("workload_name", name);
}
