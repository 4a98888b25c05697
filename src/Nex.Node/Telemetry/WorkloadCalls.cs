using Nex.Protocol;

namespace Nex.Node.Telemetry;

/// <summary>
/// One workload's calls: each relayed trigger and each host-service call is recorded once here, and goes both to
/// INFO's <see cref="CallStats"/> (always) and to the node's instruments (when exported).
/// </summary>
/// <param name="metrics">The node's instruments.</param>
/// <param name="time">The node's clock.</param>
/// <param name="ns">The workload's namespace.</param>
/// <param name="name">The workload's name.</param>
internal sealed class WorkloadCalls(NodeMetrics metrics, TimeProvider time, string ns, string name)
{
    private readonly CallWindow _window = new(time);
    private readonly WorkloadTags _tags = new(ns, name);
    private long _runtimeNanos;

    /// <summary>The agents' measured run time of the calls that succeeded, in total.</summary>
    public TimeSpan Runtime => TimeSpan.FromTicks(Interlocked.Read(ref _runtimeNanos) / 100);

    /// <summary>A timestamp taken when a call arrives.</summary>
    public long Start() => _window.Start();

    /// <summary>The call that arrived at <paramref name="startedAt"/> was answered; the agent ran it for <paramref name="runtimeNanos"/>.</summary>
    public void Succeeded(long startedAt, long runtimeNanos)
    {
        Interlocked.Add(ref _runtimeNanos, runtimeNanos);
        metrics.FunctionCalled(_tags, _window.Record(startedAt, failed: false), failed: false, runtimeNanos);
    }

    /// <summary>The call that arrived at <paramref name="startedAt"/> failed (the function threw or timed out, or no agent answered).</summary>
    public void Failed(long startedAt) =>
        metrics.FunctionCalled(_tags, _window.Record(startedAt, failed: true), failed: true, runtimeNanos: 0);

    /// <summary>A host-service call of the workload was answered with <paramref name="code"/>.</summary>
    public void HostServiceCalled(string service, int code)
    {
        _window.RecordHostServiceCall();
        metrics.HostServiceCalled(_tags, service, code);
    }

    /// <summary>INFO's view of the calls.</summary>
    public CallStats Read() => _window.Read();
}
