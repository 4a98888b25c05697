using Nex.Protocol;

namespace Nex.Client;

/// <summary>
/// What to deploy: the inputs of <see cref="WorkloadRequests.BuildDeploy"/> other than the target node, the keys
/// and the clock, so one spec can go to whichever node an auction picks.
/// The 0.2 client always sends <c>description</c>, <c>essential</c> and <c>jsdomain</c> (null sends <c>""</c>);
/// empty lists are omitted like null ones.
/// </summary>
public sealed record DeploySpec
{
    /// <summary>Where the artifact is, e.g. <c>nats://NEXCLIFILES/echoservice</c>.</summary>
    public required WorkloadLocation Location { get; init; }

    /// <summary>Workload name, the JWT's <c>sub</c> (must match <see cref="Nex.Security.WorkloadJwt.NamePattern"/> for the node to accept it).</summary>
    public required string Name { get; init; }

    /// <summary>Workload type (<see cref="WorkloadTypes"/>).</summary>
    public required string Type { get; init; }

    /// <summary>Environment variables for the workload, or null for none (an empty map is sealed either way).</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Description; null sends <c>""</c>.</summary>
    public string? Description { get; init; }

    /// <summary>Program arguments; omitted when null or empty.</summary>
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>Restart on failure (native only).</summary>
    public bool Essential { get; init; }

    /// <summary>Trigger subjects (function types); omitted when null or empty.</summary>
    public IReadOnlyList<string>? Triggers { get; init; }

    /// <summary>JetStream domain of the artifact bucket; null sends <c>""</c> (the default domain).</summary>
    public string? JsDomain { get; init; }

    /// <summary>The JWT hash claim: the artifact's SHA-256 hex, or null for the 0.2 placeholder
    /// (<see cref="Nex.Security.WorkloadJwt.PlaceholderHash"/>).</summary>
    public string? Hash { get; init; }

    /// <summary>Nex for .NET extension: per-invocation time limit of a function in milliseconds
    /// (<c>function_timeout_ms</c>); omitted when null, so the node's default applies. Must be positive.</summary>
    public int? FunctionTimeoutMs { get; init; }

    /// <summary>Nex for .NET extension: queue group for the trigger subscriptions (<c>trigger_queue_group</c>);
    /// omitted when null or empty, so every replica answers (as 0.2).</summary>
    public string? TriggerQueueGroup { get; init; }

    /// <summary>Nex for .NET extension: reuse one JavaScript context across the calls of a v8 function
    /// (<c>"function_context": "reuse"</c>; globals persist between calls); false omits the field, so every
    /// call gets a fresh context (0.2).</summary>
    public bool ReuseContext { get; init; }

    /// <summary>Host services connection for this workload (<c>host_services</c>); omitted when null.</summary>
    public NatsJwtConnectionInfo? HostServices { get; init; }
}
