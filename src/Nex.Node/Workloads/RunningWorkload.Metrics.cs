using Nex.Node.Telemetry;

namespace Nex.Node.Workloads;

/// <summary>What a workload tells the node's instruments: that it runs (once), how it ended, and its calls.</summary>
internal sealed partial class RunningWorkload
{
    private const int NotCounted = 0;
    private const int Counted = 1;
    private const int Uncounted = 2;

    private int _counted;

    /// <summary>Its calls and host-service calls (INFO's <c>calls</c> and the function instruments).</summary>
    public WorkloadCalls Calls { get; }

    /// <summary>The deploy succeeded: it counts as running, unless it already ended meanwhile.</summary>
    public void CountAsRunning()
    {
        if (Interlocked.CompareExchange(ref _counted, Counted, NotCounted) == NotCounted)
        {
            _context.Node.Metrics.WorkloadStarted(Namespace, Request.Type, Bytes, _context.Node.Config.MachineTemplate);
        }
    }

    // Every end decrements what the start counted (0.2 did so only for Firecracker, §10.1), exactly once.
    private void Uncount(string reason)
    {
        if (Interlocked.Exchange(ref _counted, Uncounted) == Counted)
        {
            _context.Node.Metrics.WorkloadEnded(Namespace, Request.Type, Bytes, _context.Node.Config.MachineTemplate, reason);
        }
    }

    private static string EndReason(WorkloadEnd why) => why switch
    {
        WorkloadEnd.Exited => "exited",
        WorkloadEnd.AgentLost => "agent_lost",
        WorkloadEnd.Stopped => "stopped",
        WorkloadEnd.NodeShutdown => "node_shutdown",
        WorkloadEnd.Moved => "moved",
        _ => "other",
    };
}
