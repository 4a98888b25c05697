using Nex.Node.Config;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>
/// Whether an ended workload comes back (spec §4.10), how many failures in a row it then counts, and how long
/// it waits first. Pure: the caller says what happened and when.
/// </summary>
/// <param name="config">The node's <c>essential_restart</c> settings.</param>
internal sealed class EssentialRestartPolicy(EssentialRestartConfig config)
{
    /// <summary>
    /// The failures in a row to count for the restart of a workload that ended as <paramref name="why"/>, or null when
    /// it is not restarted: only an essential workload that failed (a non-zero exit, or a lost agent) comes back, never
    /// in lame duck or while the node stops. A run of at least <c>reset_after_ms</c> starts the count over.
    /// </summary>
    public int? FailuresToRestart(WorkloadEnd why, int exitCode, bool essential, bool lameDuck, bool nodeStopping, TimeSpan ranFor, int failuresBefore)
    {
        if (why is not (WorkloadEnd.Exited or WorkloadEnd.AgentLost) || exitCode == 0 || !essential || lameDuck || nodeStopping)
        {
            return null;
        }

        return ranFor >= TimeSpan.FromMilliseconds(config.ResetAfterMs) ? 1 : failuresBefore + 1;
    }

    /// <summary>The wait before restart number <paramref name="failures"/>; <paramref name="random01"/> in [0, 1) sets the jitter.</summary>
    public TimeSpan Delay(int failures, double random01) => config.Delay(failures, random01);

    /// <summary>The original request replayed (spec §4.10): retry_count + 1, stamped now, without the per-request
    /// connection overrides (they are not kept past the first run).</summary>
    public static DeployRequest Replay(DeployRequest previous, DateTimeOffset now) => previous with
    {
        RetryCount = (previous.RetryCount ?? 0) + 1,
        RetriedAt = now,
        HostServices = null,
        TriggerConnection = null,
    };
}
