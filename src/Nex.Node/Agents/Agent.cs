using Nex.Node.InternalNats;
using Nex.Node.Machines;

namespace Nex.Node.Agents;

/// <summary>
/// One running agent: its machine, the node's link to it, and its credentials on the internal
/// server. Owned by the pool while warm, then by the workload it runs. <see cref="DestroyAsync"/>
/// stops the machine, closes the link and removes the account, once.
/// </summary>
internal sealed class Agent(string id, IMachine machine, AgentLink link, InternalNatsServer internalNats)
{
    private readonly Lock _gate = new();
    private Task? _destroying;

    public string Id { get; } = id;

    public IMachine Machine { get; } = machine;

    public AgentLink Link { get; } = link;

    /// <summary>Completes when the machine has gone.</summary>
    public Task Exited => Machine.Exited;

    /// <summary>Stops the machine (SIGTERM, SIGKILL after <paramref name="grace"/>) and revokes the
    /// agent's credentials (0.2 leaked them on non-graceful stops, §11 #19). Later calls share the first.</summary>
    public Task DestroyAsync(TimeSpan grace)
    {
        lock (_gate)
        {
            return _destroying ??= DestroyCoreAsync(grace);
        }
    }

    private async Task DestroyCoreAsync(TimeSpan grace)
    {
        try
        {
            await Machine.StopAsync(grace, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await Machine.DisposeAsync().ConfigureAwait(false);
            await Link.DisposeAsync().ConfigureAwait(false);
            await internalNats.RemoveWorkloadAsync(Id, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
