using System.Diagnostics;
using NATS.Client.Core;
using Nex.Client;

namespace Nex.Testing;

/// <summary>Waits for what a cluster does a moment later: interest crossing the routes, a stream leader's election, a reconnect.</summary>
public static class NatsClusterWaits
{
    /// <summary>Asks until <paramref name="ask"/> succeeds (retrying NATS, Nex client and timeout errors), never a fixed sleep.</summary>
    /// <exception cref="TimeoutException">It still failed after <paramref name="within"/> (15 s by default); the message names <paramref name="what"/> and the last error.</exception>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> ask, string what, TimeSpan? within = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ask);
        var clock = Stopwatch.StartNew();
        var limit = within ?? TimeSpan.FromSeconds(15);
        while (true)
        {
            try
            {
                return await ask();
            }
            catch (Exception ex) when (ex is NatsException or NexClientException or TimeoutException && clock.Elapsed < limit)
            {
                await Task.Delay(50, cancellationToken);
            }
            catch (Exception ex) when (ex is NatsException or NexClientException or TimeoutException)
            {
                throw new TimeoutException($"timed out after {limit.TotalSeconds:0}s waiting for {what}: {ex.Message}", ex);
            }
        }
    }

    /// <inheritdoc cref="EventuallyAsync{T}"/>
    public static Task<bool> EventuallyAsync(Func<Task> ask, string what, TimeSpan? within = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ask);
        return EventuallyAsync(async () => { await ask(); return true; }, what, within, cancellationToken);
    }
}
