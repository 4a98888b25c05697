using NATS.Client.Core;
using Nex.Testing;
using Xunit;

namespace Nex.Nats.Tests;

public sealed class NatsEndpointsTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InOrder_HandlesOneMessageAtATime_InTheOrderSent()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var seen = new List<int>();
        var busy = 0;
        var overlap = false;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoints = new NatsEndpoints((_, _) => ValueTask.CompletedTask);
        await endpoints.AddAsync(connection, "t.inorder", async (msg, _) =>
        {
            overlap |= Interlocked.Increment(ref busy) > 1;
            await Task.Yield();
            seen.Add(int.Parse(System.Text.Encoding.UTF8.GetString(msg.Data!), System.Globalization.CultureInfo.InvariantCulture));
            Interlocked.Decrement(ref busy);
            if (seen.Count == 50)
            {
                all.TrySetResult();
            }
        }, cancellationToken: Ct);
        await connection.PingAsync(Ct);
        for (var i = 0; i < 50; i++)
        {
            await connection.PublishAsync("t.inorder", System.Text.Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), cancellationToken: Ct);
        }

        await all.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.False(overlap);
        Assert.Equal(Enumerable.Range(0, 50), seen);
    }

    [Fact]
    public async Task Concurrent_RunsUpToTheBound_AtOnce()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var busy = 0;
        var peak = 0;
        var reachedBound = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoints = new NatsEndpoints((_, _) => ValueTask.CompletedTask);
        await endpoints.AddAsync(connection, "t.concurrent", async (_, _) =>
        {
            var now = Interlocked.Increment(ref busy);
            InterlockedMax(ref peak, now);
            if (now == 4)
            {
                reachedBound.TrySetResult();
            }

            await release.Task;
            Interlocked.Decrement(ref busy);
        }, new NatsEndpointOptions(MaxConcurrency: 4), Ct);
        await connection.PingAsync(Ct);
        for (var i = 0; i < 10; i++)
        {
            await connection.PublishAsync("t.concurrent", Array.Empty<byte>(), cancellationToken: Ct);
        }

        await reachedBound.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        // Four handlers are blocked; a round trip lets any fifth message arrive if the bound did not hold.
        await connection.PingAsync(Ct);
        Assert.Equal(4, Volatile.Read(ref busy));
        release.SetResult();
        Assert.Equal(4, Volatile.Read(ref peak));
    }

    [Fact]
    public async Task InlineStart_StartsHandlersInArrivalOrder_RunsThemConcurrently_AndADrainWaitsForThem()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new List<byte>();
        var finished = 0;
        var failures = new List<string>();
        var allStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoints = new NatsEndpoints((_, ex) =>
        {
            lock (failures)
            {
                failures.Add(ex.Message);
            }

            return ValueTask.CompletedTask;
        });
        await endpoints.AddAsync(connection, "t.inline", (msg, _) =>
        {
            // The synchronous part runs on the read loop, one message after the other.
            started.Add(msg.Data![0]);
            if (started.Count == 10)
            {
                allStarted.TrySetResult();
            }

            return msg.Data[0] switch
            {
                100 => throw new InvalidOperationException("thrown before any wait"),
                200 => ValueTask.CompletedTask, // done at once
                _ => WaitAsync(),
            };

            async ValueTask WaitAsync()
            {
                await release.Task;
                Interlocked.Increment(ref finished);
            }
        }, new NatsEndpointOptions(MaxConcurrency: 16, InlineStart: true), Ct);
        await connection.PingAsync(Ct);
        byte[] sent = [0, 1, 2, 100, 3, 200, 4, 5, 6, 7];
        foreach (var b in sent)
        {
            await connection.PublishAsync("t.inline", new[] { b }, cancellationToken: Ct);
        }

        // Eight handlers wait at once; the loop went past each of them (and past the two that ended at once).
        await allStarted.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(sent, started);
        Assert.Equal(["thrown before any wait"], failures);
        Assert.Equal(0, Volatile.Read(ref finished));

        var drained = endpoints.DrainAsync();
        await connection.PingAsync(Ct);
        Assert.False(drained.IsCompleted);
        release.SetResult();
        await drained.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(8, Volatile.Read(ref finished));
        await endpoints.DisposeAsync();
    }

    [Fact]
    public async Task AFailingHandler_GoesToTheCallback_AndTheLoopServesTheNextMessage()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var failed = new TaskCompletionSource<(string Subject, string Error)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoints = new NatsEndpoints((msg, ex) =>
        {
            failed.TrySetResult((msg.Subject, ex.Message));
            return msg.ReplyAsync("failed"u8.ToArray(), cancellationToken: CancellationToken.None);
        });
        await endpoints.AddAsync(connection, "t.fail", async (msg, _) =>
        {
            if (msg.Data is [1])
            {
                throw new InvalidOperationException("boom");
            }

            await msg.ReplyAsync("ok"u8.ToArray(), cancellationToken: CancellationToken.None);
        }, cancellationToken: Ct);
        await connection.PingAsync(Ct);

        var first = await connection.RequestAsync<byte[], byte[]>("t.fail", [1], cancellationToken: Ct);
        Assert.Equal("failed"u8.ToArray(), first.Data);
        Assert.Equal(("t.fail", "boom"), await failed.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        var second = await connection.RequestAsync<byte[], byte[]>("t.fail", [2], cancellationToken: Ct);
        Assert.Equal("ok"u8.ToArray(), second.Data);
    }

    [Fact]
    public async Task Dispose_CancelsHandlers_WaitsForThem_AndUnsubscribes()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = false;
        var endpoints = new NatsEndpoints((_, _) => ValueTask.CompletedTask);
        await endpoints.AddAsync(connection, "t.dispose", async (_, token) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, token);
            }
            finally
            {
                await Task.Yield();
                finished = true;
            }
        }, NatsEndpointOptions.Concurrent, Ct);
        await connection.PingAsync(Ct);
        await connection.PublishAsync("t.dispose", Array.Empty<byte>(), cancellationToken: Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        await endpoints.DisposeAsync();
        Assert.True(finished);
        await endpoints.DisposeAsync(); // twice is fine
        await Assert.ThrowsAsync<ObjectDisposedException>(() => endpoints.AddAsync(connection, "t.after", (_, _) => ValueTask.CompletedTask, cancellationToken: Ct));
        await Assert.ThrowsAsync<NatsNoRespondersException>(async () => await connection.RequestAsync<byte[], byte[]>("t.dispose", [], replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(5) }, cancellationToken: Ct));
    }

    [Fact]
    public async Task Drain_Unsubscribes_AndFinishesWhatWasReceived_WithoutCancelling()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new List<byte>();
        var cancelled = false;
        var endpoints = new NatsEndpoints((_, _) => ValueTask.CompletedTask);
        await endpoints.AddAsync(connection, "t.drain", async (msg, token) =>
        {
            started.TrySetResult();
            await release.Task;
            cancelled |= token.IsCancellationRequested;
            handled.Add(msg.Data![0]);
        }, cancellationToken: Ct);
        await connection.PingAsync(Ct);
        for (byte i = 0; i < 3; i++)
        {
            await connection.PublishAsync("t.drain", new[] { i }, cancellationToken: Ct);
        }

        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        // The three messages are with the client once a round trip is back (the server sends in order).
        await connection.PingAsync(Ct);
        var drained = endpoints.DrainAsync();
        Assert.False(drained.IsCompleted);
        release.SetResult();
        await drained.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(new byte[] { 0, 1, 2 }, handled);
        Assert.False(cancelled);
        await Assert.ThrowsAsync<NatsNoRespondersException>(async () => await connection.RequestAsync<byte[], byte[]>("t.drain", [], replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(5) }, cancellationToken: Ct));
        await endpoints.DisposeAsync(); // after a drain: harmless
        await Assert.ThrowsAsync<ObjectDisposedException>(() => endpoints.AddAsync(connection, "t.after", (_, _) => ValueTask.CompletedTask, cancellationToken: Ct));
    }

    [Fact]
    public async Task DisposeDuringADrain_CancelsTheHandlerTheDrainWaitsFor()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpoints = new NatsEndpoints((_, _) => ValueTask.CompletedTask);
        await endpoints.AddAsync(connection, "t.drain.cancel", async (_, token) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
        }, cancellationToken: Ct);
        await connection.PingAsync(Ct);
        await connection.PublishAsync("t.drain.cancel", Array.Empty<byte>(), cancellationToken: Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        var drained = endpoints.DrainAsync();
        Assert.False(drained.IsCompleted);
        await endpoints.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(drained.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task TheOwnersToken_CancelsHandlers_AndEndsTheLoops_BeforeDispose()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        using var owner = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = 0;
        await using var endpoints = new NatsEndpoints((_, _) =>
        {
            Interlocked.Increment(ref failures);
            return ValueTask.CompletedTask;
        }, owner.Token);
        await endpoints.AddAsync(connection, "t.owner", async (_, token) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, token);
            }
            finally
            {
                cancelled.TrySetResult();
            }
        }, cancellationToken: Ct);
        await connection.PingAsync(Ct);
        await connection.PublishAsync("t.owner", Array.Empty<byte>(), cancellationToken: Ct);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        await owner.CancelAsync();
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(endpoints.Stopping.IsCancellationRequested);
        Assert.Equal(0, Volatile.Read(ref failures)); // a cancelled handler is no failure
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
