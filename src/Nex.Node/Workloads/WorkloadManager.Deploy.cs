using Microsoft.Extensions.Logging;
using Nex.Node.Agents;
using Nex.Node.Machines.Container;
using Nex.Node.Telemetry;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>Deploys (spec §1.8.2 steps 11–16): an agent from the pool (or an image's own), the artifact, the agent's
/// request; then the workload takes over.</summary>
internal sealed partial class WorkloadManager
{
    private static readonly TimeSpan AgentDeployTimeout = TimeSpan.FromSeconds(15);

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
        RunningWorkload? workload = null;

        // Its desired-state key: a new workload's first id, kept by its restarts and recoveries.
        deploy = deploy with { DesiredKey = deploy.DesiredKey ?? DesiredState.Key(deploy.Namespace, agent.Id) };
        try
        {
            // Steps 12–13: the bytes are offered to the agent, which fetches them over its link (not through a
            // JetStream bucket as in 0.2: reloads of the internal server briefly stall JetStream in every account).
            NodeTracing.AddEvent(NodeTracing.DeploySpan, "Started workload download");
            var artifact = await _artifacts.LoadAsync(deploy, cancellationToken).ConfigureAwait(false);
            NodeTracing.AddEvent(NodeTracing.DeploySpan, "Completed workload download");
            agent.Link.OfferArtifact(artifact.Bytes);
            var created = new RunningWorkload(agent, deploy, artifact, consecutiveFailures, _context, this);
            workload = created;
            _live[created] = 0;
            _ = created.Completion.ContinueWith(done => _live.TryRemove(created, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

            // Listed before the agent answers, so its first events and log lines find it.
            _running[agent.Id] = created;
            created.StartWatchdog();
            AgentDeployResponse response;
            try
            {
                var request = AgentDeployRequests.Build(deploy, artifact, workload.FunctionTimeout, image, _workloadNatsUrl, _node.Config);
                NodeTracing.AddEvent(NodeTracing.DeploySpan, "Created agent deploy request");
                response = await agent.Link.DeployAsync(request, AgentDeployTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (AgentRequestException ex)
            {
                throw new ControlRejectedException($"Failed to deploy workload: failed to submit request for workload deployment: {ex.Message}");
            }

            if (!response.Accepted)
            {
                throw new ControlRejectedException($"Failed to deploy workload: workload rejected by agent: {response.Message}");
            }

            NodeTracing.AddEvent(NodeTracing.DeploySpan, "Agent deploy request accepted");

            if (WorkloadTypes.IsFunction(deploy.Request.Type))
            {
                await workload.StartFunctionAsync(cancellationToken).ConfigureAwait(false);
            }

            // Recorded before the answer, so a node that dies right after it still knows to run it again.
            await RecordAsync(deploy, agent.Id, cancellationToken).ConfigureAwait(false);
            LogDeployed(_logger, workload.Name, workload.Id, deploy.Namespace, workload.Hash);
            workload.CountAsRunning();
            return new RunResponse { Started = true, Id = agent.Id, Issuer = deploy.Claims.Iss, Name = deploy.Claims.Sub };
        }
        catch
        {
            _running.TryRemove(agent.Id, out _);
            if (workload is not null)
            {
                await workload.AbandonAsync().ConfigureAwait(false);
            }
            else
            {
                await agent.DestroyAsync(TimeSpan.Zero).ConfigureAwait(false);
            }

            throw;
        }
    }

    // OCI (a Nex for .NET addition): the image, unpacked once per digest, becomes the root of a container
    // sandbox started for this workload alone; the agent inside runs the image's entrypoint.
    private async Task<(Agent Agent, OciImageConfig Image)> StartImageAgentAsync(ValidatedDeploy deploy, CancellationToken cancellationToken)
    {
        if (!_pool.SupportsImages)
        {
            throw new ControlRejectedException("Failed to deploy workload: oci workloads need the container sandbox (\"sandbox\": \"container\")");
        }

        var artifact = await _artifacts.LoadAsync(deploy, cancellationToken).ConfigureAwait(false);
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

    // An essential restart: the replayed request through the same checks as any deploy (spec §4.10), as the
    // same desired workload.
    private Task<RunResponse> RedeployAsync(ValidatedDeploy replay, int consecutiveFailures, CancellationToken cancellationToken)
    {
        var validated = Validator.Validate(replay.Namespace, replay.Request, trusted: false) with { DesiredKey = replay.DesiredKey, Origin = replay.Origin };
        return DeployAsync(validated, consecutiveFailures, cancellationToken);
    }

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "Deployed workload {Name} as {Id} in namespace {Namespace} (sha256 {Hash})")]
    private static partial void LogDeployed(ILogger logger, string name, string id, string @namespace, string hash);
}
