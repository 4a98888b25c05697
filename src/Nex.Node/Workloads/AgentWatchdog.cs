using Nex.Node.InternalNats;

namespace Nex.Node.Workloads;

/// <summary>
/// Notices, within moments, an agent that dies (crash, kill -9) or stops answering its pings, on the node's clock.
/// Silence while the internal server is down, or just back and its agents still reconnecting, says nothing about
/// an agent: the watch goes on (a dead agent is still caught by its exit).
/// </summary>
/// <param name="time">The node's clock: pings are spaced on it.</param>
/// <param name="pingInterval">How long between pings.</param>
/// <param name="pingTimeout">How long a ping may take.</param>
/// <param name="internalNats">Reads the internal server's health.</param>
internal sealed class AgentWatchdog(TimeProvider time, TimeSpan pingInterval, TimeSpan pingTimeout, Func<InternalNatsHealth> internalNats)
{
    /// <summary>The reason given when the agent's machine exited.</summary>
    public const string AgentExited = "Agent exited unexpectedly";

    /// <summary>The reason given when the agent did not answer a ping.</summary>
    public const string LostContact = "Lost contact with agent";

    /// <summary>The interval between pings the node uses.</summary>
    public static readonly TimeSpan DefaultPingInterval = TimeSpan.FromSeconds(5);

    /// <summary>How long after an internal server restart a silent agent is not yet counted as lost: agents
    /// retry every second at most, so they are back well within it.</summary>
    public static readonly TimeSpan ReconnectGrace = TimeSpan.FromSeconds(5);

    /// <summary>Watches one agent until it is lost or <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <param name="exited">Completes when the agent's machine has gone.</param>
    /// <param name="ping">Pings the agent within a timeout; false when it did not answer.</param>
    /// <param name="cancellationToken">Cancelled when the workload ends for another reason.</param>
    /// <returns>Why the agent counts as lost (<see cref="AgentExited"/> or <see cref="LostContact"/>), or null when cancelled.</returns>
    public async Task<string?> WatchAsync(Task exited, Func<TimeSpan, CancellationToken, Task<bool>> ping, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var tick = Task.Delay(pingInterval, time, cancellationToken);
            var first = await Task.WhenAny(exited, tick).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                return null;
            }

            if (first == exited)
            {
                return AgentExited;
            }

            if (!IsSettled())
            {
                continue;
            }

            // The ping is not cancelled by an end under way: its answer is simply not used then.
            if (!await ping(pingTimeout, CancellationToken.None).ConfigureAwait(false) && !cancellationToken.IsCancellationRequested && IsSettled())
            {
                return LostContact;
            }
        }

        return null;
    }

    private bool IsSettled() => internalNats().UpFor(ReconnectGrace, time.GetUtcNow());
}
