using Nex.Node.Config;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>
/// Spec §1.8.2 steps 12–13: a deploy's artifact from the main NATS object store, checked against the node's
/// size limits (before the download when the store says the size, and after it) and against the JWT's hash claim.
/// </summary>
/// <param name="fetcher">Downloads and caches artifacts.</param>
/// <param name="limits">The node's limits.</param>
/// <param name="runningBytes">The artifact bytes of the workloads running now (read at each check).</param>
internal sealed class ArtifactLoader(ArtifactFetcher fetcher, NodeLimits limits, Func<long> runningBytes)
{
    /// <summary>Loads <paramref name="deploy"/>'s artifact.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    public async Task<Artifact> LoadAsync(ValidatedDeploy deploy, CancellationToken cancellationToken)
    {
        var location = deploy.Request.Location;
        var pinned = WorkloadJwt.IsRealDigest(deploy.Claims.Hash) ? deploy.Claims.Hash : null;
        if (pinned is not null && fetcher.TryGetPinned(location, deploy.Request.JsDomain, pinned) is { } known)
        {
            CheckSizeLimits(known.Bytes.LongLength);
            return known;
        }

        Artifact artifact;
        try
        {
            var handle = await fetcher.LocateAsync(location, deploy.Request.JsDomain, cancellationToken).ConfigureAwait(false);
            CheckSizeLimits(handle.Size);
            artifact = await fetcher.GetAsync(handle, cancellationToken).ConfigureAwait(false);
        }
        catch (ArtifactException ex)
        {
            throw new ControlRejectedException($"Failed to cache workload bytes: {ex.Message}", Rejection.Artifact);
        }

        CheckSizeLimits(artifact.Bytes.LongLength);
        if (pinned is not null && !string.Equals(pinned, artifact.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ControlRejectedException($"Failed to cache workload bytes: the artifact's SHA-256 {artifact.Sha256} does not match the workload JWT hash claim {deploy.Claims.Hash}", Rejection.Artifact);
        }

        return artifact;
    }

    /// <summary>Refuses an artifact of <paramref name="size"/> bytes that would break <paramref name="limits"/>
    /// (0 means unlimited) next to <paramref name="runningBytes"/> already deployed.</summary>
    /// <exception cref="ControlRejectedException">With the spec's message.</exception>
    public static void CheckSizeLimits(NodeLimits limits, long size, long runningBytes)
    {
        if (limits.MaxWorkloadBytes > 0 && size > limits.MaxWorkloadBytes)
        {
            throw new ControlRejectedException("Workload file size would exceed node limitations");
        }

        if (limits.MaxTotalBytes > 0 && size + runningBytes > limits.MaxTotalBytes)
        {
            throw new ControlRejectedException("Workload file size would exceed node total limitations");
        }
    }

    private void CheckSizeLimits(long size)
    {
        // The running total is only summed when a total limit is set (it walks every workload).
        if (limits.MaxWorkloadBytes > 0 || limits.MaxTotalBytes > 0)
        {
            CheckSizeLimits(limits, size, limits.MaxTotalBytes > 0 ? runningBytes() : 0);
        }
    }
}
