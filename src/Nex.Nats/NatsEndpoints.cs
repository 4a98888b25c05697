using NATS.Client.Core;

namespace Nex.Nats;

/// <summary>
/// The one way Nex serves subjects: each endpoint is a core subscription with its own read loop, whose
/// handler runs either in order (one message at a time) or concurrently up to a bound. A handler that throws
/// never ends its loop: the failure goes to the group's failure callback (which may still answer the
/// request). Disposing the group stops every loop, unsubscribes, and waits for the handlers in flight.
/// </summary>
/// <remarks>
/// The control API, the node's link to each agent, a function's triggers and host-service calls, and the
/// agent's own subjects are all endpoints of a group; each owner keeps one group and disposes it when it ends.
/// </remarks>
public sealed class NatsEndpoints : IAsyncDisposable
{
    private readonly Func<NatsMsg<byte[]>, Exception, ValueTask> _onFailed;
    private readonly CancellationTokenSource _stopping;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private readonly List<INatsSub<byte[]>> _subscriptions = [];
    private readonly List<Task> _loops = [];
    private int _disposed;
    private bool _ended;

    /// <summary>Creates an empty group.</summary>
    /// <param name="onFailed">
    /// Called with the message when its handler throws (other than being cancelled because the group is
    /// stopping); it may reply with an error. It must not throw.
    /// </param>
    /// <param name="stopping">
    /// The owner's own stop: cancelling it cancels the handlers and ends the loops at once, so an owner can
    /// abort the work in flight before it tears down what that work holds (it still disposes the group).
    /// </param>
    public NatsEndpoints(Func<NatsMsg<byte[]>, Exception, ValueTask> onFailed, CancellationToken stopping = default)
    {
        _onFailed = onFailed;
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(stopping);
    }

    /// <summary>Cancelled when the group (or its owner) starts to stop; handlers get it as their token.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>
    /// Subscribes <paramref name="subject"/> on <paramref name="connection"/> and starts serving it. Returns once
    /// the subscription is made (flush the connection to be sure the server has it).
    /// </summary>
    /// <param name="connection">The connection to subscribe on.</param>
    /// <param name="subject">The subject, wildcards allowed.</param>
    /// <param name="handler">What to do with each message; gets the group's stopping token.</param>
    /// <param name="options">Queue group and concurrency; by default one message at a time, in order.</param>
    /// <param name="cancellationToken">Cancels the subscribe.</param>
    /// <exception cref="ObjectDisposedException">The group has been disposed.</exception>
    public async Task AddAsync(
        INatsConnection connection,
        string subject,
        Func<NatsMsg<byte[]>, CancellationToken, ValueTask> handler,
        NatsEndpointOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        options ??= NatsEndpointOptions.InOrder;
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxConcurrency);
        var sub = await connection.SubscribeCoreAsync<byte[]>(subject, options.QueueGroup, opts: options.SubOpts, cancellationToken: cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_disposed == 0)
            {
                _subscriptions.Add(sub);
                _loops.Add(Task.Run(() => ServeAsync(sub, handler, options.MaxConcurrency, options.InlineStart), CancellationToken.None));
                return;
            }
        }

        // Disposed while subscribing: this subscription is not served.
        await sub.DisposeAsync().ConfigureAwait(false);
        throw new ObjectDisposedException(nameof(NatsEndpoints));
    }

    /// <summary>
    /// Stops every endpoint, cancelling its handlers, and waits for the handlers still running. Safe to call
    /// twice, and during or after <see cref="DrainAsync"/> (it then cancels what the drain waits for).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task cancelled;
        lock (_gate)
        {
            // CancelAsync runs the callbacks off this thread, so none runs under the lock.
            cancelled = _ended ? Task.CompletedTask : _stopping.CancelAsync();
        }

        await cancelled.ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Unsubscribes every endpoint and waits until the handlers have finished the messages already received,
    /// without cancelling them (a NATS drain). No endpoint can be added afterwards; disposing later is harmless.
    /// </summary>
    /// <returns>A task that completes when every loop has ended.</returns>
    public Task DrainAsync() => StopAsync();

    // The first caller does the work; any other waits for it.
    private Task StopAsync()
    {
        INatsSub<byte[]>[] subscriptions;
        Task[] loops;
        lock (_gate)
        {
            if (_disposed != 0)
            {
                return _stopped.Task;
            }

            _disposed = 1;
            subscriptions = [.. _subscriptions];
            loops = [.. _loops];
        }

        return EndAsync(subscriptions, loops);
    }

    // Unsubscribing completes each subscription's channel: its loop reads what is left (nothing once the
    // group is cancelled) and ends.
    private async Task EndAsync(INatsSub<byte[]>[] subscriptions, Task[] loops)
    {
        try
        {
            foreach (var sub in subscriptions)
            {
                try
                {
                    await sub.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is NatsException or ObjectDisposedException or InvalidOperationException)
                {
                    // The connection is already gone; so is the subscription.
                }
            }

            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _ended = true;
                _stopping.Dispose();
            }

            _stopped.TrySetResult();
        }
    }

    private async Task ServeAsync(INatsSub<byte[]> sub, Func<NatsMsg<byte[]>, CancellationToken, ValueTask> handler, int maxConcurrency, bool inline)
    {
        // A loop outlives whatever started it: a span ambient then (a deploy's) must not parent every message it serves.
        System.Diagnostics.Activity.Current = null;
        var token = _stopping.Token;
        if (maxConcurrency == 1)
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(token).ConfigureAwait(false))
                {
                    await HandleAsync(handler, msg, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }

            return;
        }

        // Concurrent: each message runs as its own task; a bound keeps a burst from piling up unbounded work.
        using var slots = maxConcurrency > 1 ? new SemaphoreSlim(maxConcurrency) : null;
        var running = new Running();
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(token).ConfigureAwait(false))
            {
                if (slots is not null)
                {
                    await slots.WaitAsync(token).ConfigureAwait(false);
                }

                running.Add();
                if (inline)
                {
                    // Runs here up to its first wait (the handler only starts a request, say): no thread-pool
                    // hop per message, and a handler that finishes at once costs no task at all.
                    var handled = HandleAsync(handler, msg, token);
                    if (handled.IsCompleted)
                    {
                        handled.GetAwaiter().GetResult();
                        Done(slots, running);
                    }
                    else
                    {
                        _ = FinishAsync(handled, slots, running);
                    }
                }
                else
                {
                    _ = RunAsync(msg, slots, running);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        await running.EndAsync().ConfigureAwait(false);

        async Task RunAsync(NatsMsg<byte[]> msg, SemaphoreSlim? slots, Running running)
        {
            await Task.Yield();
            try
            {
                await HandleAsync(handler, msg, token).ConfigureAwait(false);
            }
            finally
            {
                Done(slots, running);
            }
        }
    }

    private static async Task FinishAsync(ValueTask handled, SemaphoreSlim? slots, Running running)
    {
        try
        {
            await handled.ConfigureAwait(false);
        }
        finally
        {
            Done(slots, running);
        }
    }

    private static void Done(SemaphoreSlim? slots, Running running)
    {
        slots?.Release();
        running.Remove();
    }

    private async ValueTask HandleAsync(Func<NatsMsg<byte[]>, CancellationToken, ValueTask> handler, NatsMsg<byte[]> msg, CancellationToken token)
    {
        try
        {
            await handler(msg, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception ex)
        {
            await _onFailed(msg, ex).ConfigureAwait(false);
        }
    }
}

/// <summary>Handlers in flight on one concurrent endpoint, counted instead of tracked one by one (no set, no task per message).</summary>
internal sealed class Running
{
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // One for the read loop itself, released by EndAsync: the count reaches zero only once the loop has ended.
    private int _count = 1;

    public void Add() => Interlocked.Increment(ref _count);

    public void Remove()
    {
        if (Interlocked.Decrement(ref _count) == 0)
        {
            _ended.TrySetResult();
        }
    }

    /// <summary>Called once, when the loop has ended: completes when the last handler has.</summary>
    public Task EndAsync()
    {
        Remove();
        return _ended.Task;
    }
}

/// <summary>How an endpoint of <see cref="NatsEndpoints"/> receives and runs its messages.</summary>
/// <param name="MaxConcurrency">
/// 1: one message at a time, in order (the handler's own pace sets the subscription's). More than 1: up to that
/// many handlers at once. 0: as many as arrive (for handlers that only wait, such as a relayed request).
/// </param>
/// <param name="QueueGroup">A queue group to join, or null.</param>
/// <param name="SubOpts">Subscription options (for example the pending channel's size and full mode), or null.</param>
/// <param name="InlineStart">
/// Concurrent endpoints only: start each handler on the read loop, which goes on to the next message at the
/// handler's first wait, instead of on a thread-pool thread. For handlers that do little before they wait
/// (relaying a request, queueing work); a handler that computes before its first wait holds up the messages behind it.
/// </param>
public sealed record NatsEndpointOptions(int MaxConcurrency = 1, string? QueueGroup = null, NatsSubOpts? SubOpts = null, bool InlineStart = false)
{
    /// <summary>One message at a time, in order.</summary>
    public static NatsEndpointOptions InOrder { get; } = new();

    /// <summary>Every message at once, unbounded.</summary>
    public static NatsEndpointOptions Concurrent { get; } = new(MaxConcurrency: 0);
}
