using Nex.Agent.Providers.V8;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>The lane's two threads and their queues (no V8 involved).</summary>
public sealed class V8ThreadSchedulerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OwnerWork_RunsInOrder_OnTheOwnerThread()
    {
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => { });
        scheduler.Start();
        var seen = new List<(int, string?)>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < 5; i++)
        {
            var n = i;
            Assert.True(scheduler.PostOwner(() => seen.Add((n, Thread.CurrentThread.Name))));
        }

        scheduler.PostOwner(done.SetResult);
        await done.Task.WaitAsync(Wait, Token);
        Assert.Equal([(0, "nex-v8"), (1, "nex-v8"), (2, "nex-v8"), (3, "nex-v8"), (4, "nex-v8")], seen);
        await scheduler.StopAsync().WaitAsync(Wait, Token);
    }

    [Fact]
    public async Task TryRunOwner_RunsOnTheCaller_OnlyWhileTheOwnerHasNothingToDo()
    {
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => { });
        scheduler.Start();
        var caller = Environment.CurrentManagedThreadId;
        var ranOn = 0;
        Assert.True(scheduler.TryRunOwner(() => ranOn = Environment.CurrentManagedThreadId));
        Assert.Equal(caller, ranOn);

        // The owner busy with an item, then with one queued behind it: posted work keeps its turn.
        using var release = new ManualResetEventSlim();
        var busy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var order = new List<string>();
        scheduler.PostOwner(() => { busy.SetResult(); release.Wait(Token); order.Add("first"); });
        await busy.Task.WaitAsync(Wait, Token);
        Assert.False(scheduler.TryRunOwner(() => order.Add("inline while busy")));
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        scheduler.PostOwner(() => { order.Add("second"); second.SetResult(); });
        release.Set();
        await second.Task.WaitAsync(Wait, Token);
        Assert.Equal(["first", "second"], order);

        await scheduler.StopAsync().WaitAsync(Wait, Token);
        Assert.False(scheduler.TryRunOwner(() => order.Add("inline after stop")));
        Assert.Equal(["first", "second"], order);
    }

    [Fact]
    public async Task Stop_WaitsForOwnerWorkRunningOnACaller_BeforeTheShutdown()
    {
        var events = new List<string>();
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => { lock (events) { events.Add("shutdown"); } });
        scheduler.Start();
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inline = Task.Run(() => scheduler.TryRunOwner(() => { entered.SetResult(); release.Wait(Token); lock (events) { events.Add("inline"); } }), Token);
        await entered.Task.WaitAsync(Wait, Token);
        var stopped = scheduler.StopAsync();
        Assert.False(stopped.IsCompleted);
        release.Set();
        await stopped.WaitAsync(Wait, Token);
        Assert.True(await inline);
        Assert.Equal(["inline", "shutdown"], events);
    }

    [Fact]
    public async Task PreparationWork_RunsOnThePreparingThread()
    {
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => { });
        scheduler.Start();
        var name = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(scheduler.PostPreparation(() => name.SetResult(Thread.CurrentThread.Name)));
        Assert.Equal("nex-v8-prep", await name.Task.WaitAsync(Wait, Token));
        await scheduler.StopAsync().WaitAsync(Wait, Token);
    }

    [Fact]
    public async Task AFailingWorkItem_IsReported_AndTheThreadGoesOn()
    {
        var errors = new List<string>();
        var scheduler = new V8ThreadScheduler(0, ex => errors.Add(ex.Message), () => { });
        scheduler.Start();
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        scheduler.PostOwner(() => throw new InvalidOperationException("boom"));
        scheduler.PostOwner(after.SetResult);
        await after.Task.WaitAsync(Wait, Token);
        Assert.Equal(["boom"], errors);
        await scheduler.StopAsync().WaitAsync(Wait, Token);
    }

    [Fact]
    public async Task Stop_RunsTheShutdownOnTheOwnerThread_AndRefusesMoreWork()
    {
        var shutdownOn = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => shutdownOn.SetResult(Thread.CurrentThread.Name));
        scheduler.Start();
        await scheduler.StopAsync().WaitAsync(Wait, Token);
        Assert.Equal("nex-v8", await shutdownOn.Task.WaitAsync(Wait, Token));
        Assert.False(scheduler.PostOwner(() => { }));
        Assert.False(scheduler.PostPreparation(() => { }));
        Assert.False(scheduler.IsWorking);
    }

    [Fact]
    public async Task Stop_DropsQueuedWork()
    {
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => { });
        scheduler.Start();
        var release = new ManualResetEventSlim();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ranLater = false;
        scheduler.PostOwner(() =>
        {
            started.SetResult();
            release.Wait(Wait);
        });
        scheduler.PostOwner(() => ranLater = true);
        await started.Task.WaitAsync(Wait, Token);
        Assert.True(scheduler.IsWorking);
        var stopped = scheduler.StopAsync();
        release.Set();
        await stopped.WaitAsync(Wait, Token);
        Assert.False(ranLater);
    }

    [Fact]
    public async Task Stop_BeforeStart_CompletesAtOnce()
    {
        var shutdownRan = false;
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => shutdownRan = true);
        await scheduler.StopAsync().WaitAsync(Wait, Token);
        Assert.False(scheduler.IsStarted);
        Assert.False(shutdownRan);
    }

    [Fact]
    public void Start_Twice_IsRefused()
    {
        var scheduler = new V8ThreadScheduler(0, _ => { }, () => { });
        scheduler.Start();
        try
        {
            Assert.Equal("the function was already initialized", Assert.Throws<InvalidOperationException>(scheduler.Start).Message);
        }
        finally
        {
            _ = scheduler.StopAsync();
        }
    }
}
