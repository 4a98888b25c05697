using Nex.Protocol;

namespace Nex.Client;

/// <summary>Uploads an artifact file; <see cref="WorkloadWorkflows.DevRunAsync"/> calls it so a caller can show progress.</summary>
/// <param name="store">The store to upload to.</param>
/// <param name="path">The file.</param>
/// <param name="maxBytes">Size limit of the bucket when it is created.</param>
/// <param name="cancellationToken">Cancels the upload.</param>
/// <returns>The upload.</returns>
public delegate Task<ArtifactUpload> ArtifactUploader(ArtifactStore store, string path, long maxBytes, CancellationToken cancellationToken);

/// <summary>
/// What <c>nex devrun</c> runs: a local file, uploaded to <see cref="ArtifactStore.DevBucket"/> and deployed under the
/// file name without dots, signed with the developer keys (<see cref="DevKeys"/>).
/// </summary>
/// <remarks>
/// Nothing here is checked again: run <see cref="WorkloadPreflight"/> and the name rule first, so a refused devrun
/// leaves the running workload alone.
/// </remarks>
public sealed record DevRunSpec
{
    /// <summary>The artifact file.</summary>
    public required string Path { get; init; }

    /// <summary>Workload type (<see cref="WorkloadTypes"/>).</summary>
    public required string Type { get; init; }

    /// <summary>Environment variables, or null for none.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Program arguments, or null for none.</summary>
    public IReadOnlyList<string>? Argv { get; init; }

    /// <summary>Restart on failure (native only).</summary>
    public bool Essential { get; init; }

    /// <summary>Trigger subjects (function types).</summary>
    public IReadOnlyList<string>? Triggers { get; init; }

    /// <summary>Per-invocation time limit of a function in milliseconds; null for the node's default.</summary>
    public int? FunctionTimeoutMs { get; init; }

    /// <summary>Queue group of the trigger subscriptions; null for none.</summary>
    public string? TriggerQueueGroup { get; init; }

    /// <summary>Reuse one context across the calls of a v8 function (see <see cref="DeploySpec.ReuseContext"/>).</summary>
    public bool ReuseContext { get; init; }

    /// <summary>After the deploy, stop the node's other workloads of the same name (default true).</summary>
    public bool StopPrevious { get; init; } = true;

    /// <summary>Size limit of the <see cref="ArtifactStore.DevBucket"/> bucket when it is created.</summary>
    public long BucketMaxBytes { get; init; } = ArtifactStore.DefaultMaxBytes;

    /// <summary>Node id, unique id prefix or node name; null picks the best-scored node that bids in an auction (<see cref="Placement"/>).</summary>
    public string? Node { get; init; }

    /// <summary>How many copies to run (<c>--replicas</c>), each on its own node while there are enough; 1 to
    /// <see cref="WorkloadWorkflows.MaxReplicas"/>, more than one only without <see cref="Node"/>.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Directory of the developer keys; null for <see cref="DevKeys.DefaultHome"/>.</summary>
    public string? KeysHome { get; init; }

    /// <summary>The workload name devrun gives a file: its name without dots (<see cref="ArtifactStore.KeyForFile"/>).</summary>
    public string Name => ArtifactStore.KeyForFile(Path);
}

/// <summary>What a run did.</summary>
/// <param name="NodeId">The node that runs the workload.</param>
/// <param name="Response">The node's answer to the deploy.</param>
public sealed record RunResult(string NodeId, RunResponse Response);

/// <summary>What a run of several copies did.</summary>
/// <param name="Copies">The accepted copies, in placement order.</param>
/// <param name="Failures">The refused copies, one line each (<c>node &lt;id&gt;: &lt;error&gt;</c>).</param>
public sealed record ReplicasResult(IReadOnlyList<RunResult> Copies, IReadOnlyList<string> Failures);

/// <summary>What a devrun did.</summary>
/// <param name="NodeId">The node that runs the new workload (the first copy).</param>
/// <param name="Response">The node's answer to the deploy (the first copy).</param>
/// <param name="Stopped">The ids of the previous workloads of that name that were stopped.</param>
/// <param name="StopFailure">Why a previous workload could not be stopped (it runs beside the new one), or null.</param>
public sealed record DevRunResult(string NodeId, RunResponse Response, IReadOnlyList<string> Stopped, string? StopFailure)
{
    /// <summary>Every accepted copy (<see cref="DevRunSpec.Replicas"/>), the first being <see cref="NodeId"/>/<see cref="Response"/>.</summary>
    public IReadOnlyList<RunResult> Copies { get; init; } = [];

    /// <summary>Copies that were refused while others were accepted, one line each; the previous workloads are then kept.</summary>
    public IReadOnlyList<string> DeployFailures { get; init; } = [];
}

/// <summary>What a stop did.</summary>
/// <param name="NodeId">The node that ran the workload.</param>
/// <param name="WorkloadName">The name the stop token was issued for.</param>
/// <param name="Response">The node's answer.</param>
public sealed record StopResult(string NodeId, string WorkloadName, StopResponse Response);

/// <summary>What a stop by name did.</summary>
/// <param name="Stopped">The workloads stopped.</param>
/// <param name="Failures">The ones that could not be stopped, one line each.</param>
public sealed record StopAllResult(IReadOnlyList<StopResult> Stopped, IReadOnlyList<string> Failures);
