using Microsoft.ClearScript;
using Nex.Protocol;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// Runs the invocations of one lane on its owner thread (or, for a reused context, on the caller's thread when the
/// lane is idle: <see cref="V8ThreadScheduler.TryRunOwner"/>), one at a time in arrival order: starts one in a
/// context from the pool with its deadline armed, runs its JavaScript with the deadline able to interrupt
/// it (<see cref="Microsoft.ClearScript.V8.V8ScriptEngine.Interrupt"/>, documented thread-safe, is the only
/// V8 call made from another thread) and cancelling its host-service wait (which the interrupt cannot
/// reach), and finishes it: answers the caller first, then gives the context back and starts the next. Also ends
/// every call still pending when the lane stops.
/// </summary>
internal sealed class V8InvocationRunner
{
    private readonly V8Options _options;
    private readonly TimeProvider _time;
    private readonly V8ThreadScheduler _scheduler;
    private readonly V8ContextPool _pool;
    private readonly V8Heap _heap;
    private readonly V8HostBridge _bridge;
    private readonly V8RecentCalls _recent;
    private readonly TimerCallback _onTimeout;
    private readonly HashSet<V8Invocation> _live = []; // locked on itself: accepted and not finished
    private readonly Lock _interruptGate = new(); // _running

    // Owner-thread state.
    private readonly Queue<V8Invocation> _waiting = new();
    private V8Invocation? _current;

    // Guarded by _interruptGate: the invocation whose JavaScript is on the owner thread's stack right now.
    private V8Invocation? _running;

    /// <summary>Creates the runner.</summary>
    /// <param name="options">The timeout.</param>
    /// <param name="time">Clock for the deadline and the runtime.</param>
    /// <param name="scheduler">The lane's threads.</param>
    /// <param name="pool">The lane's contexts.</param>
    /// <param name="heap">The lane's heap (recovered after a V8 failure).</param>
    /// <param name="bridge">The lane's host functions and output.</param>
    /// <param name="recent">Where each finished call's time is recorded (shared by the function's lanes).</param>
    public V8InvocationRunner(V8Options options, TimeProvider time, V8ThreadScheduler scheduler, V8ContextPool pool, V8Heap heap, V8HostBridge bridge, V8RecentCalls recent)
    {
        _options = options;
        _time = time;
        _scheduler = scheduler;
        _pool = pool;
        _heap = heap;
        _bridge = bridge;
        _recent = recent;
        _onTimeout = OnTimeout;
    }

    /// <summary>The invocation on the owner thread right now (owner thread only).</summary>
    public V8Invocation? Current => _current;

    /// <summary>Calls accepted and not yet finished (read from any thread; a hint).</summary>
    public int PendingCalls
    {
        get
        {
            lock (_live)
            {
                return _live.Count;
            }
        }
    }

    /// <summary>Accepts one call; it starts on the owner thread once the calls before it are done.</summary>
    /// <param name="subject">Trigger subject.</param>
    /// <param name="payload">Payload bytes.</param>
    /// <param name="here">Run it on this thread when the lane is idle (the caller decided it may hold this thread).</param>
    /// <returns>The reply, or null when the function failed (its error went to stderr) or the lane stopped.</returns>
    public Task<TriggerResult?> Enqueue(string subject, ReadOnlyMemory<byte> payload, bool here = false)
    {
        var invocation = new V8Invocation(subject, payload.ToArray());

        // Registered before it is posted, so it is never finished (and removed) before it is registered.
        lock (_live)
        {
            _live.Add(invocation);
        }

        // Run here when the lane is idle, sparing the owner thread's wake-up: always for a reused context; for fresh
        // contexts only when the caller chose to (V8Options.InlineBelow). Fresh calls in general stay on the owner
        // threads, where the lanes run them side by side: running every one here held the agent's read loop
        // (measured: 8 callers 1,206–1,271 req/s, against 1,633–1,723 through the owner threads).
        if ((here || _options.Mode == V8IsolationMode.ReusedContext) && _scheduler.TryRunOwner(() => Start(invocation)))
        {
            return invocation.Completion.Task;
        }

        if (!_scheduler.PostOwner(() => Start(invocation)))
        {
            lock (_live)
            {
                _live.Remove(invocation);
            }

            return Task.FromResult<TriggerResult?>(null);
        }

        return invocation.Completion.Task;
    }

    /// <summary>Ends the current call and every pending one without reply (owner thread, at shutdown).</summary>
    public void Shutdown()
    {
        if (_current is { } current)
        {
            current.Fail("function stopped");
            Finish(current);
        }

        V8Invocation[] pending;
        lock (_live)
        {
            pending = [.. _live];
            _live.Clear();
        }

        // Outside the lock: a waiting caller resumes inline.
        foreach (var live in pending)
        {
            live.Completion.TrySetResult(null);
        }

        _waiting.Clear();
    }

    private void Start(V8Invocation invocation)
    {
        if (_current is not null)
        {
            _waiting.Enqueue(invocation);
            return;
        }

        _current = invocation;
        invocation.MarkStarted(_time);
        try
        {
            invocation.Context = _pool.Take();
        }
        catch (Exception ex)
        {
            invocation.Fail(ex is ScriptEngineException se ? se.ErrorDetails ?? se.Message : ex.Message);
            Finish(invocation);
            return;
        }

        invocation.ArmDeadline(_time, _options.Timeout, _onTimeout);
        var context = invocation.Context;
        // One entry into V8: run makes the payload's Uint8Array and has the host fill it (V8HostBridge.Fill).
        Enter(invocation, () => V8HostBridge.Release(context.Api.InvokeMethod("run", invocation.Subject, invocation.Payload.Length)));
    }

    /// <summary>Runs JavaScript for <paramref name="invocation"/> with the timeout able to interrupt it.</summary>
    private void Enter(V8Invocation invocation, Action action)
    {
        lock (_interruptGate)
        {
            if (invocation.TimedOut)
            {
                invocation.Fail(TimeoutMessage());
            }
            else
            {
                _running = invocation;
            }
        }

        if (!invocation.HasOutcome)
        {
            try
            {
                action();
            }
            catch (ScriptInterruptedException)
            {
                invocation.Fail(invocation.TimedOut ? TimeoutMessage() : "function execution was interrupted");
            }
            catch (ScriptEngineException ex)
            {
                // V8's heap limit ends the script with "…exceeded its memory limit" (dependencies §4).
                var text = ex.ErrorDetails is { Length: > 0 } details ? details : ex.Message;
                invocation.Fail(text, text.Contains("memory limit", StringComparison.OrdinalIgnoreCase) ? FunctionErrors.OutOfMemory : FunctionErrors.Exception);
                _heap.Recover();
            }
            finally
            {
                lock (_interruptGate)
                {
                    _running = null;
                }
            }
        }

        if (invocation.HasOutcome)
        {
            Finish(invocation);
        }
    }

    private void Finish(V8Invocation invocation)
    {
        if (!invocation.TryMarkFinished())
        {
            return;
        }

        lock (_live)
        {
            _live.Remove(invocation);
        }

        var elapsed = invocation.StopClock(_time);
        _recent.Record(elapsed);
        if (ReferenceEquals(_current, invocation))
        {
            _current = null;
        }

        // Answer first, so the reply leaves while the used context is cleaned up.
        if (invocation.Error is { } error)
        {
            _bridge.WriteOutput(WorkloadStream.StandardError, error);
        }

        invocation.Completion.TrySetResult(invocation.Reply(elapsed));

        if (invocation.Context is { } context)
        {
            if (invocation.TimedOut)
            {
                context.Engine.CancelInterrupt();
            }

            _pool.Return(context, failed: invocation.Error is not null);
        }

        _pool.QueueRefill();
        if (_waiting.TryDequeue(out var next))
        {
            _scheduler.PostOwner(() => Start(next));
        }
    }

    private string TimeoutMessage() => V8Invocation.TimeoutMessage(_options.Timeout);

    private void OnTimeout(object? state)
    {
        var invocation = (V8Invocation)state!;
        lock (_interruptGate)
        {
            var first = invocation.TryTimeOut();
            if (!invocation.TimedOut || invocation.Finished)
            {
                return; // answered before its deadline, or ended since
            }

            if (ReferenceEquals(_running, invocation))
            {
                invocation.Context?.Engine.Interrupt();
            }

            // A repeat (the deadline fires until the call has finished) only interrupts again: an interrupt from
            // this thread may have been lost, and a script that caught its host call's timeout may be looping.
            if (!first)
            {
                return;
            }
        }

        // Ends a host-service call the owner thread is blocked in (V8HostBridge); the interrupt then ends the script.
        invocation.Abort.Cancel();

        // Not running JavaScript right now (awaiting a promise nothing settles): end it from the owner thread.
        _scheduler.PostOwner(() =>
        {
            if (!invocation.Finished)
            {
                invocation.Fail(TimeoutMessage());
                Finish(invocation);
            }
        });
    }
}
