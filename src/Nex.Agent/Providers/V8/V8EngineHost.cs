using System.Threading.Channels;
using Microsoft.ClearScript;
using Nex.Agent.HostServices;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// One lane of a V8 function: one <see cref="Microsoft.ClearScript.V8.V8Runtime"/> (isolate) and the
/// contexts in it, behind a small façade that composes the parts — <see cref="V8ThreadScheduler"/> (the
/// owner and preparing threads), <see cref="V8Heap"/> (the runtime, its limits and collections),
/// <see cref="V8ContextPool"/> (compiled scripts and prepared contexts), <see cref="V8HostBridge"/> (JS ↔
/// host functions and host services) and <see cref="V8InvocationRunner"/> (the calls, one at a time, with
/// their deadlines). Every V8 call happens on the lane's two threads, except the thread-safe
/// <c>Interrupt</c> from a call's deadline timer.
/// </summary>
internal sealed class V8EngineHost : IDisposable
{
    private readonly V8ThreadScheduler _scheduler;
    private readonly V8Heap _heap;
    private readonly V8ContextPool _pool;
    private readonly V8InvocationRunner _runner;
    private readonly V8HostBridge _bridge;

    /// <summary>Creates the host; nothing runs until <see cref="InitializeAsync"/>.</summary>
    /// <param name="options">Limits.</param>
    /// <param name="hostServices">Host services of this workload (null: calls reject).</param>
    /// <param name="output">Where console output and errors go.</param>
    /// <param name="time">Clock for timeouts and the reported runtime.</param>
    /// <param name="recent">The function's last call time, shared by its lanes (null: this lane's own).</param>
    public V8EngineHost(V8Options options, HostServicesClient? hostServices, ChannelWriter<(WorkloadStream Stream, string Text)> output, TimeProvider time, V8RecentCalls? recent = null)
    {
        V8InvocationRunner? runner = null;

        // The bridge reaches the runner, which is built last (it needs the pool, which needs the bridge).
        var bridge = _bridge = new V8HostBridge(hostServices, output, () => runner!.Current);
        _heap = new V8Heap(options.MaxMemoryBytes);
        _scheduler = new V8ThreadScheduler(
            options.PreparationNice,
            ex => bridge.WriteOutput(WorkloadStream.StandardError, $"v8 host error: {ex.Message}"),
            Shutdown);
        _pool = new V8ContextPool(options, _heap, _scheduler, bridge);
        _runner = runner = new V8InvocationRunner(options, time, _scheduler, _pool, _heap, bridge, recent ?? new V8RecentCalls());
    }

    /// <summary>Prepared contexts ready for a call right now (read from any thread; a hint).</summary>
    public int ReadyContexts => _pool.ReadyCount;

    /// <summary>True while either thread runs something (a call, a preparation, a disposal); a hint.</summary>
    public bool IsWorking => _scheduler.IsWorking;

    /// <summary>Nothing running or queued on either thread (tests wait for it).</summary>
    internal bool IsIdle => _scheduler.IsIdle;

    /// <summary>Calls accepted and not yet finished (read from any thread; a hint).</summary>
    public int PendingCalls => _runner.PendingCalls;

    /// <summary>Starts the threads, compiles the script and prepares the first context.</summary>
    /// <param name="source">The JavaScript source.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that faults with the V8 message when the script is unusable.</returns>
    public Task InitializeAsync(string source, CancellationToken cancellationToken)
    {
        _scheduler.Start();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _scheduler.PostOwner(() =>
        {
            try
            {
                _pool.Initialize(source);
                ready.TrySetResult();
            }
            catch (ScriptEngineException ex)
            {
                ready.TrySetException(new V8FunctionException(ex.Message, ex));
            }
            catch (Exception ex)
            {
                ready.TrySetException(ex);
            }
        });
        return ready.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Fills the context pool in the background.</summary>
    public void Warm() => _pool.Warm();

    /// <summary>Runs one call; invocations are served one at a time in arrival order.</summary>
    /// <param name="subject">Trigger subject.</param>
    /// <param name="payload">Payload bytes.</param>
    /// <param name="here">Run it on this thread if the lane is idle (a reused context's calls always try).</param>
    /// <param name="cancellationToken">Cancels the wait (the call still ends by itself or by its timeout).</param>
    /// <returns>The reply, or null when the function failed (its error went to stderr).</returns>
    public Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, bool here, CancellationToken cancellationToken)
    {
        if (!_scheduler.IsStarted)
        {
            throw new InvalidOperationException("the function was not initialized");
        }

        return _runner.Enqueue(subject, payload, here).WaitAsync(cancellationToken);
    }

    /// <summary>Collects as the host does when its heap fills up, then reports the heap in use (tests).</summary>
    /// <param name="v8Only">Only a V8 collection (no .NET finalizers first).</param>
    /// <returns>Bytes of V8 heap in use after the collection.</returns>
    internal Task<ulong> CollectAndMeasureAsync(bool v8Only = false)
    {
        var measured = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_scheduler.PostOwner(() => measured.TrySetResult(_heap.CollectAndMeasure(v8Only))))
        {
            measured.TrySetException(new InvalidOperationException("the host is stopping"));
        }

        return measured.Task;
    }

    /// <summary>Stops the owner thread: pending calls end without reply, every context and the runtime are disposed.</summary>
    /// <returns>A task that completes when the thread has exited.</returns>
    public Task StopAsync()
    {
        // First release the owner thread from a host-service call it may be blocked in.
        _bridge.Stop();
        return _scheduler.StopAsync();
    }

    /// <summary>Requests the stop (see <see cref="StopAsync"/>) without waiting: the owner thread disposes the runtime.</summary>
    public void Dispose() => _ = StopAsync();

    // On the owner thread, once both threads have stopped taking work.
    private void Shutdown()
    {
        _runner.Shutdown();
        _pool.Dispose();
        _heap.Dispose();
        _bridge.Dispose();
    }
}
