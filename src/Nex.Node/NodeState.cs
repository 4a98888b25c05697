using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Nex.Node.Config;
using Nex.Node.Identity;
using Nex.Node.InternalNats;
using Nex.Protocol;

namespace Nex.Node;

/// <summary>
/// What every part of the node reads about the node itself: identity, effective tags (spec §4.4),
/// lame duck, and the clock it started at. One instance per node.
/// </summary>
internal sealed class NodeState
{
    private readonly ConcurrentDictionary<string, string> _tags;
    private int _lameDuck;
    private Func<InternalNatsHealth>? _internalNats;
    private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NodeState(NodeConfig config, NodeIdentity identity, string version, string nexus, TimeProvider time)
    {
        Config = config;
        Identity = identity;
        Version = version;
        Nexus = nexus;
        Time = time;
        StartedAt = time.GetUtcNow();
        Metrics = new Telemetry.NodeMetrics(config.EffectiveSandbox);
        _tags = new ConcurrentDictionary<string, string>(config.Tags, StringComparer.Ordinal);
        _tags["nex.os"] = GoOs();
        _tags["nex.arch"] = GoArch();
        _tags["nex.cpucount"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture);
        if (config.IsNoSandbox)
        {
            _tags["nex.unsafe"] = "true";
        }
        else
        {
            _tags["nex.sandbox"] = config.EffectiveSandbox;
        }
    }

    public NodeConfig Config { get; }

    public NodeIdentity Identity { get; }

    public string NodeId => Identity.NodeId;

    public string Version { get; }

    public string Nexus { get; }

    public TimeProvider Time { get; }

    /// <summary>The node's instruments (exported only with <c>--metrics</c>); the node disposes them as it stops.</summary>
    public Telemetry.NodeMetrics Metrics { get; }

    /// <summary>How often the main NATS connection was lost since start (INFO's <c>nats_disconnects</c>).</summary>
    public Func<long> MainNatsDisconnects { get; set; } = static () => 0;

    /// <summary>Warm agents in the pool right now (AUCTION bids carry it), or null while nothing reports it.</summary>
    public Func<int?> WarmAgents { get; set; } = static () => null;

    public DateTimeOffset StartedAt { get; }

    public bool IsLameDuck => Volatile.Read(ref _lameDuck) != 0;

    /// <summary>Uptime in NATS format (§1.11), since the node started.</summary>
    public string Uptime => NexUptime.Format(Time.GetUtcNow() - StartedAt);

    /// <summary>A snapshot of the effective tags.</summary>
    public IReadOnlyDictionary<string, string> Tags => new SortedDictionary<string, string>(_tags, StringComparer.Ordinal);

    /// <summary>The internal NATS server's health (up until <see cref="WatchInternalNats"/> says where to read it).</summary>
    public InternalNatsHealth InternalNatsHealth =>
        _internalNats?.Invoke() ?? new InternalNatsHealth(InternalNatsState.Up, null, StartedAt);

    /// <summary>Why the node cannot run new workloads, or null when it is healthy (PING, INFO, heartbeat, deploys).</summary>
    public string? Unhealthy => InternalNatsHealth is { IsUp: false } health ? health.Reason : null;

    /// <summary>Where <see cref="InternalNatsHealth"/> reads the server's health from.</summary>
    public void WatchInternalNats(Func<InternalNatsHealth> read) => _internalNats = read;

    /// <summary>Sets a node-owned tag (e.g. the microVM accelerator), reported in PING and INFO.</summary>
    public void SetTag(string key, string value) => _tags[key] = value;

    /// <summary>Enters lame duck once; false if it already was.</summary>
    public bool TryEnterLameDuck()
    {
        if (Interlocked.Exchange(ref _lameDuck, 1) != 0)
        {
            return false;
        }

        _tags["nex.lameduck"] = "true";
        return true;
    }

    /// <summary>Completes when the node asks its host to stop it (a finished drain); <c>nex node up</c> then shuts
    /// it down as on Ctrl-C. An in-process host that does not await it keeps the node up.</summary>
    public Task StopRequested => _stopRequested.Task;

    /// <summary>Asks the node's host to stop the node (once; later calls do nothing).</summary>
    public void RequestStop() => _stopRequested.TrySetResult();

    internal static string GoOs() =>
        OperatingSystem.IsLinux() ? "linux" : OperatingSystem.IsMacOS() ? "darwin" : OperatingSystem.IsWindows() ? "windows" : RuntimeInformation.OSDescription.ToLowerInvariant();

    internal static string GoArch() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        var other => other.ToString().ToLowerInvariant(),
    };
}
