using Nex.Nats;
using Nex.Node.Config;

namespace Nex.Node;

/// <summary>Everything a node needs to start, besides a logger.</summary>
public sealed record NexNodeOptions
{
    /// <summary>The node configuration (spec §4.1).</summary>
    public NodeConfig Config { get; init; } = new();

    /// <summary>How to reach the main NATS system.</summary>
    public NexConnectionOptions Connection { get; init; } = new() { ConnectionName = "nex-node" };

    /// <summary>
    /// Start an embedded <c>nats-server</c> when no server was given and none answers on
    /// <see cref="EmbeddedNatsPort"/> (the <c>nex node up</c> default).
    /// </summary>
    public bool AllowEmbeddedNats { get; init; } = true;

    /// <summary>Loopback port of the embedded server; 4222 so that other <c>nex</c> commands find it.</summary>
    public int EmbeddedNatsPort { get; init; } = 4222;

    /// <summary>Nexus (cluster) name reported in PING and heartbeats.</summary>
    public string Nexus { get; init; } = "nexus";

    /// <summary>Version string the node reports.</summary>
    public string Version { get; init; } = NexVersion.Current;

    /// <summary>Heartbeat period (30 s in 0.2).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Nex's home directory (keys, embedded NATS data): <c>$NEX_HOME</c> or <c>~/.nex</c>.</summary>
    public string HomeDirectory { get; init; } = NexHome.Directory;

    /// <summary>Whether <see cref="HomeDirectory"/> was chosen (<c>NEX_HOME</c>), not defaulted: a root node then
    /// keeps its sandbox images there when the sandbox user can reach them.</summary>
    public bool HomeDirectoryExplicit { get; init; } = NexHome.IsExplicit;

    /// <summary>A root node's default sandbox image directory (<c>/var/lib/nex/sandbox</c>; tests point it elsewhere).</summary>
    public string SystemImageDirectory { get; init; } = Machines.SandboxPreflight.SystemImageDirectory;

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>How the internal NATS server is restarted when it dies (tests slow the first restart down).</summary>
    internal InternalNats.RestartPolicyOptions InternalNatsRestart { get; init; } = InternalNats.RestartPolicyOptions.Default;
}

/// <summary>Where Nex keeps its files: <c>$NEX_HOME</c>, else <c>~/.nex</c>.</summary>
public static class NexHome
{
    /// <summary>The directory.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("NEX_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nex");

    /// <summary>Whether <c>NEX_HOME</c> chose <see cref="Directory"/>.</summary>
    public static bool IsExplicit => Environment.GetEnvironmentVariable("NEX_HOME") is { Length: > 0 };
}

/// <summary>The product version, from the assembly.</summary>
public static class NexVersion
{
    /// <summary>e.g. <c>0.3.0</c>.</summary>
    public static string Current { get; } =
        (typeof(NexVersion).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "development")
        .Split('+')[0];
}
