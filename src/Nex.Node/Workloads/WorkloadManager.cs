using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Nex.Node.Agents;
using Nex.Node.Machines;
using Nex.Node.Machines.Container;
using NATS.Client.Core;
using Nex.Node.Events;
using Nex.Processes;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>
/// Owns the node's workloads: deploys them onto warm agents (spec §1.8.2 steps 11–16), relays
/// their events and logs, stops them (§1.9, §4.9), restarts essential ones with backoff (§4.10),
/// and reports every end with exactly one <c>workload_undeployed</c> event.
/// </summary>
internal sealed partial class WorkloadManager : IWorkloadManager, IAgentListener
{
    private static readonly TimeSpan AgentDeployTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan UndeployTimeout = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan AgentStopGrace = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan RecentlyEndedKept = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UsageMaxAge = TimeSpan.FromSeconds(1);

    /// <summary>How long after an internal server restart a silent agent is not yet counted as lost: agents
    /// retry every second at most, so they are back well within it.</summary>
    internal static readonly TimeSpan AgentReconnectGrace = TimeSpan.FromSeconds(5);

    private readonly NodeState _node;
    private readonly AgentPool _pool;
    private readonly ArtifactFetcher _artifacts;
    private readonly EventPublisher _events;
    private readonly string? _workloadNatsUrl;
    private readonly INatsConnection _mainNats;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Workload> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (Workload Workload, DateTimeOffset EndedAt)> _recentlyEnded = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _background = new();
    private readonly Lock _usageGate = new();
    private readonly StopTokenLedger _stopTokens;
    private Dictionary<string, MachineUsage>? _usage;
    private DateTimeOffset _usageAt;

    public WorkloadManager(NodeState node, Func<IAgentListener, AgentPool> createPool, INatsConnection mainNats, EventPublisher events, string? workloadNatsUrl, ILoggerFactory loggers)
    {
        _node = node;
        _stopTokens = new StopTokenLedger(node.Time);
        _mainNats = mainNats;
        _loggers = loggers;
        _pool = createPool(this);
        _artifacts = new ArtifactFetcher(mainNats);
        _http = HostServices.HostHttpClient.From(node.Config.HostServices);
        _events = events;
        _workloadNatsUrl = workloadNatsUrl;
        _logger = loggers.CreateLogger<WorkloadManager>();
        Validator = new DeployValidator(node, () => _running.Count);
    }

    /// <summary>Why agents keep failing to start, while they do (INFO shows it); else null.</summary>
    public string? AgentStartFailure => _pool.StartFailure;

    /// <summary>Starts filling the warm pool.</summary>
    public void Start() => _pool.Start();

    /// <summary>The validation pipeline every deploy goes through.</summary>
    public DeployValidator Validator { get; }

    public IReadOnlyList<WorkloadSnapshot> Running => [.. _running.Values.Select(w => w.Snapshot())];

    public int RunningCount => _running.Count;

    public IReadOnlyDictionary<string, MachineUsage> ReadUsage()
    {
        lock (_usageGate)
        {
            // One pass over /proc serves every machine; INFO may come often, so reuse it for a second, unless
            // a workload deployed since is missing from it (devrun's INFO right after its deploy would
            // otherwise show that workload without its usage for up to a second).
            var now = _node.Time.GetUtcNow();
            if (_usage is null || now - _usageAt >= UsageMaxAge || _running.Keys.Any(id => !_usage.ContainsKey(id)))
            {
                var processes = ProcessTable.Read();
                var usage = new Dictionary<string, MachineUsage>(StringComparer.Ordinal);
                foreach (var workload in _running.Values)
                {
                    if (workload.Agent.Machine.ReadUsage(processes) is { } machine)
                    {
                        usage[workload.Id] = machine;
                    }
                }

                _usage = usage;
                _usageAt = now;
            }

            return _usage;
        }
    }

    public Task<RunResponse> DeployAsync(ValidatedDeploy deploy, CancellationToken cancellationToken) =>
        DeployAsync(deploy, consecutiveFailures: 0, cancellationToken);

    private async Task<RunResponse> DeployAsync(ValidatedDeploy deploy, int consecutiveFailures, CancellationToken cancellationToken)
    {
        // A node whose internal server cannot be restarted has no agent to give: say so, not "no agent".
        // (While a restart is under way the pool's wait below covers it.)
        if (_node.InternalNatsHealth is { State: InternalNats.InternalNatsState.Failed, Reason: var unhealthy })
        {
            throw new ControlRejectedException($"Failed to deploy workload: the node is unhealthy: {unhealthy}");
        }

        // Step 11 (0.2's bug 15 fixed: only hand-shaken agents are in the pool). A cold pool is
        // waited for, up to a handshake's time, instead of failing at once.
        if (string.Equals(deploy.Request.Type, WorkloadTypes.Oci, StringComparison.OrdinalIgnoreCase))
        {
            var (dedicated, image) = await StartImageAgentAsync(deploy, cancellationToken).ConfigureAwait(false);
            return await DeployToAsync(dedicated, image, deploy, consecutiveFailures, cancellationToken).ConfigureAwait(false);
        }

        var wait = _pool.HandshakeTimeout + TimeSpan.FromSeconds(1);
        var agent = await _pool.TakeAsync(wait, cancellationToken).ConfigureAwait(false)
            ?? throw new ControlRejectedException(_pool.StartFailure is { } cause
                ? $"Failed to get agent client from pool: no agent could be started: {cause}"
                : "Failed to get agent client from pool: no available agent client in pool");
        try
        {
            return await DeployToAsync(agent, null, deploy, consecutiveFailures, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The replacement starts once this deploy is done, so it does not slow it down.
            _pool.Replace();
        }
    }

    private async Task<RunResponse> DeployToAsync(Agent agent, OciImageConfig? image, ValidatedDeploy deploy, int consecutiveFailures, CancellationToken cancellationToken)
    {
        try
        {
            var artifact = await CacheArtifactAsync(agent, deploy, cancellationToken).ConfigureAwait(false);
            var workload = new Workload(agent, deploy, artifact, _node.Time.GetUtcNow(), consecutiveFailures)
            {
                FunctionTimeout = TimeSpan.FromMilliseconds(deploy.Request.FunctionTimeoutMs is > 0 and var ms ? ms : _node.Config.FunctionTimeoutMs),
            };

            // Listed before the agent answers, so its first events and log lines find it.
            _running[agent.Id] = workload;
            _ = WatchAgentAsync(workload);
            AgentDeployResponse response;
            try
            {
                response = await agent.Link.DeployAsync(BuildAgentRequest(deploy, artifact, workload.FunctionTimeout, image), AgentDeployTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (AgentRequestException ex)
            {
                _running.TryRemove(agent.Id, out _);
                throw new ControlRejectedException($"Failed to deploy workload: failed to submit request for workload deployment: {ex.Message}");
            }

            if (!response.Accepted)
            {
                _running.TryRemove(agent.Id, out _);
                throw new ControlRejectedException($"Failed to deploy workload: workload rejected by agent: {response.Message}");
            }

            if (WorkloadTypes.IsFunction(deploy.Request.Type))
            {
                try
                {
                    await StartFunctionAsync(workload, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    _running.TryRemove(agent.Id, out _);
                    await StopFunctionAsync(workload).ConfigureAwait(false);
                    throw;
                }
            }

            LogDeployed(_logger, workload.Name, workload.Id, deploy.Namespace, workload.Hash);
            return new RunResponse { Started = true, Id = agent.Id, Issuer = deploy.Claims.Iss, Name = deploy.Claims.Sub };
        }
        catch
        {
            _running.TryRemove(agent.Id, out _);
            await agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false);
            throw;
        }
    }

    // Steps 12–13: download from the main NATS object store, check limits, verify the hash claim,
    // and offer the bytes to the agent, which fetches them over its link (not through a JetStream
    // bucket as in 0.2: reloads of the internal server briefly stall JetStream in every account).
    private async Task<Artifact> CacheArtifactAsync(Agent agent, ValidatedDeploy deploy, CancellationToken cancellationToken)
    {
        var artifact = await LoadArtifactAsync(deploy, cancellationToken).ConfigureAwait(false);
        agent.Link.OfferArtifact(artifact.Bytes);
        return artifact;
    }

    private async Task<Artifact> LoadArtifactAsync(ValidatedDeploy deploy, CancellationToken cancellationToken)
    {
        var location = deploy.Request.Location;
        var pinned = WorkloadJwt.IsRealDigest(deploy.Claims.Hash) ? deploy.Claims.Hash : null;
        if (pinned is not null && _artifacts.TryGetPinned(location, deploy.Request.JsDomain, pinned) is { } known)
        {
            CheckSizeLimits(known.Bytes.LongLength);
            return known;
        }

        Artifact artifact;
        try
        {
            var handle = await _artifacts.LocateAsync(location, deploy.Request.JsDomain, cancellationToken).ConfigureAwait(false);
            CheckSizeLimits(handle.Size);
            artifact = await _artifacts.GetAsync(handle, cancellationToken).ConfigureAwait(false);
        }
        catch (ArtifactException ex)
        {
            throw new ControlRejectedException($"Failed to cache workload bytes: {ex.Message}");
        }

        CheckSizeLimits(artifact.Bytes.LongLength);
        if (pinned is not null && !string.Equals(pinned, artifact.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ControlRejectedException($"Failed to cache workload bytes: the artifact's SHA-256 {artifact.Sha256} does not match the workload JWT hash claim {deploy.Claims.Hash}");
        }

        return artifact;
    }

    // OCI (a Nex for .NET addition): the image, unpacked once per digest, becomes the root of a container
    // sandbox started for this workload alone; the agent inside runs the image's entrypoint.
    private async Task<(Agent Agent, OciImageConfig Image)> StartImageAgentAsync(ValidatedDeploy deploy, CancellationToken cancellationToken)
    {
        if (!_pool.SupportsImages)
        {
            throw new ControlRejectedException("Failed to deploy workload: oci workloads need the container sandbox (\"sandbox\": \"container\")");
        }

        var artifact = await LoadArtifactAsync(deploy, cancellationToken).ConfigureAwait(false);
        OciImageConfig image;
        string root;
        try
        {
            (root, image) = await OciImageCache.UnpackAsync(artifact.Bytes, artifact.Sha256, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            throw new ControlRejectedException($"Failed to deploy workload: invalid OCI image: {ex.Message}");
        }

        if (image.Entrypoint.Count == 0 && image.Cmd.Count == 0 && deploy.Request.Argv is not { Count: > 0 })
        {
            throw new ControlRejectedException("Failed to deploy workload: the image has neither Entrypoint nor Cmd, and no argv was given");
        }

        try
        {
            return (await _pool.StartDedicatedAsync(root, cancellationToken).ConfigureAwait(false), image);
        }
        catch (InvalidOperationException ex)
        {
            throw new ControlRejectedException($"Failed to deploy workload: the image's sandbox did not start: {ex.Message}");
        }
    }

    private void CheckSizeLimits(long size)
    {
        var limits = _node.Config.NodeLimits;
        if (limits.MaxWorkloadBytes > 0 && size > limits.MaxWorkloadBytes)
        {
            throw new ControlRejectedException("Workload file size would exceed node limitations");
        }

        if (limits.MaxTotalBytes > 0 && size + _running.Values.Sum(w => w.Bytes) > limits.MaxTotalBytes)
        {
            throw new ControlRejectedException("Workload file size would exceed node total limitations");
        }
    }

    private AgentDeployRequest BuildAgentRequest(ValidatedDeploy deploy, Artifact artifact, TimeSpan functionTimeout, OciImageConfig? image)
    {
        var request = deploy.Request;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in image?.Env ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                environment[pair[..eq]] = pair[(eq + 1)..];
            }
        }

        foreach (var (key, value) in deploy.Environment)
        {
            environment[key] = value;
        }

        // Docker's rule: the entrypoint, then the deploy's argv or else the image's Cmd; without an
        // entrypoint, the argv or the Cmd is the whole command.
        string? command = null;
        var argv = request.Argv;
        if (image is not null)
        {
            var full = image.Entrypoint.Count > 0
                ? [.. image.Entrypoint, .. request.Argv is { Count: > 0 } given ? given : image.Cmd]
                : request.Argv is { Count: > 0 } own ? own : image.Cmd;
            command = full[0];
            argv = [.. full.Skip(1)];
        }

        // Services usually need NATS: give them the node's own server unless the deployer chose one.
        // (A sandboxed service sees it through the sandbox's relay; with none configured it gets no URL.)
        if (request.Type is WorkloadTypes.Native or WorkloadTypes.Oci && _workloadNatsUrl is not null && !environment.Keys.Any(k => string.Equals(k, "NATS_URL", StringComparison.OrdinalIgnoreCase)))
        {
            environment["NATS_URL"] = _workloadNatsUrl;
        }

        return new AgentDeployRequest
        {
            Argv = argv,
            Command = command,
            WorkingDirectory = image?.WorkingDir is { Length: > 0 } dir ? dir : null,
            Description = request.Description ?? "",
            Environment = environment,
            Essential = request.Essential == true,
            Hash = artifact.Sha256,
            Namespace = deploy.Namespace,
            RetriedAt = request.RetriedAt,
            RetryCount = request.RetryCount,
            TotalBytes = artifact.Bytes.LongLength,
            TriggerSubjects = request.TriggerSubjects,
            WorkloadName = deploy.Claims.Sub,
            WorkloadType = request.Type,
            FunctionTimeoutMs = (int)functionTimeout.TotalMilliseconds,
            MaxSourceBytes = _node.Config.V8MaxSourceBytes,
            MaxMemoryBytes = _node.Config.FunctionMemoryMib * 1024L * 1024L,
            InlineArtifact = image is null && artifact.Bytes.Length <= AgentDeployRequest.InlineArtifactLimit ? artifact.Bytes : null,
        };
    }

    public async Task<StopResponse> StopAsync(string ns, StopRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.WorkloadId) || !_running.TryGetValue(request.WorkloadId, out var workload))
        {
            throw new ControlRejectedException("No such workload");
        }

        WorkloadClaims stopClaims;
        try
        {
            stopClaims = WorkloadJwt.Decode(request.WorkloadJwt);
        }
        catch (NexSecurityException ex)
        {
            throw new ControlRejectedException($"Invalid stop request: {ex.Message}");
        }

        if (StopRule.Check(workload.Claims, stopClaims, _node.Time.GetUtcNow()) is { } reason)
        {
            throw new ControlRejectedException($"Invalid stop request: {reason}");
        }

        // Same answer as an unknown id, to hide whether it exists (spec §1.9 step 5).
        if (!string.Equals(workload.Namespace, ns, StringComparison.Ordinal))
        {
            throw new ControlRejectedException("No such workload");
        }

        // Last, so only a token that really stops something is spent (and a refused one can be corrected).
        if (!_stopTokens.TryConsume(stopClaims))
        {
            throw new ControlRejectedException($"Invalid stop request: {StopRule.ReusedClaims}");
        }

        await EndAsync(workload, WorkloadEnd.Stopped, exitCode: 0, message: null).ConfigureAwait(false);
        return new StopResponse { Stopped = true, Id = workload.Id, Issuer = workload.Claims.Iss, Name = workload.Name };
    }

    public void EnterLameDuck()
    {
        foreach (var workload in _running.Values)
        {
            workload.Essential = false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_running.Values.Select(w => EndAsync(w, WorkloadEnd.NodeShutdown, 0, null))).ConfigureAwait(false);
        await Task.WhenAll(_background.Keys).ConfigureAwait(false);
        await _pool.DisposeAsync().ConfigureAwait(false);
        _http.Dispose();
        _stopping.Dispose();
    }

    private Workload? Find(string agentId)
    {
        if (_running.TryGetValue(agentId, out var workload))
        {
            return workload;
        }

        return _recentlyEnded.TryGetValue(agentId, out var ended) ? ended.Workload : null;
    }

    /// <summary>Runs work the manager owns but nobody awaits (restarts, watchers); disposal waits for it.</summary>
    private void Track(Func<Task> work)
    {
        var task = Task.Run(work);
        _background[task] = 0;
        _ = task.ContinueWith(t => _background.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "Deployed workload {Name} as {Id} in namespace {Namespace} (sha256 {Hash})")]
    private static partial void LogDeployed(ILogger logger, string name, string id, string @namespace, string hash);
}
