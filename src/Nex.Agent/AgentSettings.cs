namespace Nex.Agent;

/// <summary>Everything the agent needs to know about its node and itself (spec §5.4).</summary>
internal sealed record AgentSettings
{
    /// <summary>Default grace between SIGTERM and SIGKILL when stopping the workload.</summary>
    public static readonly TimeSpan DefaultStopGrace = TimeSpan.FromSeconds(5);

    /// <summary>Default time the connection to the node may be down before the agent gives up.</summary>
    public static readonly TimeSpan DefaultDisconnectGrace = TimeSpan.FromSeconds(5);

    /// <summary>The workload (= agent, = VM) id; the token in every internal subject.</summary>
    public required string WorkloadId { get; init; }

    /// <summary>Host of the node's internal NATS server (<c>0.0.0.0</c> already mapped to loopback).</summary>
    public required string NatsHost { get; init; }

    /// <summary>Port of the node's internal NATS server.</summary>
    public required int NatsPort { get; init; }

    /// <summary>
    /// A unix socket that leads to the node's NATS server (a container sandbox's), connected to instead of
    /// <see cref="NatsHost"/>:<see cref="NatsPort"/>; null: that TCP address.
    /// </summary>
    public string? NatsSocket { get; init; }

    /// <summary>The workload user's NKey seed (<c>SU…</c>), or null to connect without credentials.</summary>
    public string? NKeySeed { get; init; }

    /// <summary>The public key derived from <see cref="NKeySeed"/>.</summary>
    public string? NKeyPublic { get; init; }

    /// <summary>The metadata message sent in the handshake.</summary>
    public required string Message { get; init; }

    /// <summary>False only for <c>NEX_SANDBOX=false</c> (no-sandbox mode).</summary>
    public bool Sandboxed { get; init; }

    /// <summary>Grace between SIGTERM and SIGKILL when stopping the workload.</summary>
    public TimeSpan StopGrace { get; init; } = DefaultStopGrace;

    /// <summary>How long the node connection may be lost before an agent without a running workload exits 1
    /// (one with a running workload keeps reconnecting, checking again after each such period).</summary>
    public TimeSpan DisconnectGrace { get; init; } = DefaultDisconnectGrace;

    /// <summary>The internal NATS URL, <c>nats://host:port</c>.</summary>
    public string NatsUrl => NatsHost.Contains(':', StringComparison.Ordinal) && !NatsHost.StartsWith('[')
        ? $"nats://[{NatsHost}]:{NatsPort}"
        : $"nats://{NatsHost}:{NatsPort}";
}
