using Nex.Node.Machines;
using Nex.Processes;

namespace Nex.Node.Workloads;

/// <summary>What each running workload's machine uses, read from <c>/proc</c> in one pass and kept for a second.</summary>
/// <param name="time">The node's clock.</param>
/// <param name="running">The workloads running now.</param>
internal sealed class WorkloadUsage(TimeProvider time, Func<ICollection<RunningWorkload>> running)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);
    private readonly Lock _gate = new();
    private Dictionary<string, MachineUsage>? _usage;
    private DateTimeOffset _usageAt;

    /// <summary>Usage by workload id; at most a second old.</summary>
    public IReadOnlyDictionary<string, MachineUsage> Read()
    {
        lock (_gate)
        {
            // One pass over /proc serves every machine; INFO may come often, so reuse it for a second, unless
            // a workload deployed since is missing from it (devrun's INFO right after its deploy would
            // otherwise show that workload without its usage for up to a second).
            var now = time.GetUtcNow();
            var workloads = running();
            if (_usage is null || now - _usageAt >= MaxAge || workloads.Any(w => !_usage.ContainsKey(w.Id)))
            {
                var processes = ProcessTable.Read();
                var usage = new Dictionary<string, MachineUsage>(StringComparer.Ordinal);
                foreach (var workload in workloads)
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
}
