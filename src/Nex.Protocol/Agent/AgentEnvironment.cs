namespace Nex.Protocol;

/// <summary>
/// The environment variables through which a sandbox driver tells an agent where its node is and how to
/// start: the driver sets them, the agent reads them. One list, so that the two sides cannot drift apart.
/// </summary>
public static class AgentEnvironment
{
    /// <summary><c>false</c> (any case) means no sandbox (the agent then reports no-sandbox metadata).</summary>
    public const string Sandbox = "NEX_SANDBOX";

    /// <summary>The workload id (the agent's id on the internal NATS server).</summary>
    public const string WorkloadId = "NEX_WORKLOADID";

    /// <summary>The internal NATS server's host.</summary>
    public const string NatsHost = "NEX_NODE_NATS_HOST";

    /// <summary>The internal NATS server's port.</summary>
    public const string NatsPort = "NEX_NODE_NATS_PORT";

    /// <summary>The agent's NATS user seed, when given in the environment (tests; never set by a node).</summary>
    public const string NatsSeed = "NEX_NODE_NATS_NKEY_SEED";

    /// <summary>
    /// <see cref="SeedFromStdin"/>: the seed arrives as the first line on standard input, read once at start (how the node
    /// hands it over), so that it never sits in an environment or a file a workload could read.
    /// </summary>
    public const string NatsSeedSource = "NEX_NODE_NATS_NKEY_SEED_FROM";

    /// <summary>The one value of <see cref="NatsSeedSource"/>: the seed is the first line on standard input.</summary>
    public const string SeedFromStdin = "stdin";

    /// <summary>
    /// A unix socket that leads to the internal NATS server (a container sandbox's <c>/run/nex</c> one): the agent
    /// connects through it, and the host and port only name the server.
    /// </summary>
    public const string NatsSocket = "NEX_NODE_NATS_SOCKET";

    /// <summary>A JSON metadata file: <c>{"vmid","node_nats_host","node_nats_port","node_nats_nkey","message"}</c>.</summary>
    public const string MetadataFile = "NEX_METADATA_FILE";

    /// <summary>Milliseconds between SIGTERM and SIGKILL when the agent stops its workload.</summary>
    public const string StopGraceMs = "NEX_AGENT_STOP_GRACE_MS";

    /// <summary>Milliseconds the node connection may be lost before the agent exits.</summary>
    public const string DisconnectGraceMs = "NEX_AGENT_DISCONNECT_GRACE_MS";

    /// <summary><c>listen=target,…</c>: loopback <c>host:port</c> the agent relays to a unix socket path.</summary>
    public const string Relays = "NEX_RELAYS";

    /// <summary>Set to 1 by a restored microVM's init: the agent reseeds the kernel's random generator first.</summary>
    public const string ReseedCrng = "NEX_RESEED_CRNG";
}
