using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>
/// Owns the node's workloads. Until agents exist this node has an empty pool, so every deploy
/// fails at 0.2's pool step and every stop finds no workload.
/// </summary>
internal sealed class WorkloadManager : IWorkloadManager
{
    public IReadOnlyList<WorkloadSnapshot> Running => [];

    public Task<RunResponse> DeployAsync(ValidatedDeploy deploy, CancellationToken cancellationToken) =>
        throw new ControlRejectedException("Failed to get agent client from pool: no available agent client in pool");

    public Task<StopResponse> StopAsync(string ns, StopRequest request, CancellationToken cancellationToken) =>
        throw new ControlRejectedException("No such workload");

    public void EnterLameDuck()
    {
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
