using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using Microsoft.ClearScript.V8;
using Microsoft.ClearScript.V8.FastProxy;
using Nex.Agent.HostServices;
using Nex.Processes;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// Owns one <see cref="V8Runtime"/> and every engine (context) in it, used from two dedicated threads, each
/// with its own work queue: the owner thread runs calls, host-service settlements and disposals; the preparing
/// thread, at nice 19, prepares the next contexts. V8 lets one thread at a time into the isolate, and at that
/// priority a preparation never delays a reply: on this design's 2-core target, the reply used to wait behind
/// it (measured: the median call 30% slower). Nothing else touches V8 except
/// <see cref="V8ScriptEngine.Interrupt"/> (documented thread-safe) from the timeout timer, and nothing on
/// either thread ever blocks on a task, so the ClearScript continuation deadlock (dependencies §4) cannot
/// happen: host-service tasks complete on the thread pool and only post their result back here.
/// </summary>
internal sealed class V8EngineHost : IDisposable
{
    private const string PreludeName = "nex-prelude.js";
    private const string ScriptName = "function.js";

    private static readonly Lock ProcessGate = new();
    private static bool _processConfigured;

    private readonly V8Options _options;
    private readonly HostServicesClient? _hostServices;
    private readonly ChannelWriter<(WorkloadStream Stream, string Text)> _output;
    private readonly TimeProvider _time;
    // Each thread waits on its own gate, so a call never wakes the preparing thread for nothing.
    private readonly object _queueGate = new(); // _high, _live
    private readonly object _prepGate = new(); // _low, _refillQueued
    private readonly Queue<Action> _high = new();
    private readonly Queue<Action> _low = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _interruptGate = new();
    private readonly HashSet<Invocation> _live = [];
    private readonly V8FastHostFunction _doneFunction;
    private readonly V8FastHostFunction _callFunction;
    private readonly V8FastHostFunction _logFunction;
    private Thread? _thread;
    private Thread? _prepThread;
    private volatile bool _stopping;

    // Filled by the preparing thread, taken by the owner thread; others read its count to pick a lane.
    private readonly System.Collections.Concurrent.ConcurrentQueue<PreparedEngine> _pool = new();

    // Owner-thread state (the runtime and the compiled scripts are set before the preparing thread gets work).
    private readonly Queue<Invocation> _waiting = new();
    private V8Runtime? _runtime;
    private V8Script? _prelude;
    private V8Script? _script;
    private PreparedEngine? _shared;
    private Invocation? _current;

    private bool _refillQueued;

    // Read from other threads to pick a lane.
    private bool _working;
    private bool _prepWorking;

    // Guarded by _interruptGate: the invocation whose JavaScript is on the owner thread's stack right now.
    private Invocation? _running;

    /// <summary>Creates the host; nothing runs until <see cref="InitializeAsync"/>.</summary>
    /// <param name="options">Limits.</param>
    /// <param name="hostServices">Host services of this workload (null: calls reject).</param>
    /// <param name="output">Where console output and errors go.</param>
    /// <param name="time">Clock for timeouts.</param>
    public V8EngineHost(V8Options options, HostServicesClient? hostServices, ChannelWriter<(WorkloadStream Stream, string Text)> output, TimeProvider time)
    {
        _options = options;
        _hostServices = hostServices;
        _output = output;
        _time = time;
        _doneFunction = new V8FastHostFunction("done", OnDone);
        _callFunction = new V8FastHostFunction("call", OnCall);
        _logFunction = new V8FastHostFunction("log", OnLog);
    }

    /// <summary>Starts the owner thread, compiles the script and prepares the first context.</summary>
    /// <param name="source">The JavaScript source.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that faults with the V8 message when the script is unusable.</returns>
    public Task InitializeAsync(string source, CancellationToken cancellationToken)
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("the function was already initialized");
        }

        _thread = new Thread(() => Loop(prep: false), 16 * 1024 * 1024) { IsBackground = true, Name = "nex-v8" };
        _thread.Start();
        _prepThread = new Thread(() => Loop(prep: true), 16 * 1024 * 1024) { IsBackground = true, Name = "nex-v8-prep" };
        _prepThread.Start();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(high: true, () =>
        {
            try
            {
                ConfigureProcess();
                var constraints = new V8RuntimeConstraints
                {
                    // Hard V8 limit well above the soft one, so the soft limit (sampled) trips first.
                    MaxOldSpaceSize = (int)Math.Max(32, (_options.MaxMemoryBytes * 2 / (1024 * 1024)) + 16),
                    MaxArrayBufferAllocation = (ulong)_options.MaxMemoryBytes,
                };
                _runtime = new V8Runtime("nex-v8", constraints)
                {
                    MaxHeapSize = (UIntPtr)_options.MaxMemoryBytes,
                    HeapSizeSampleInterval = TimeSpan.FromMilliseconds(10),
                };
                _prelude = _runtime.Compile(PreludeName, V8Prelude.Source);
                _script = _runtime.Compile(ScriptName, source);
                var first = Prepare();
                if (_options.Mode == V8IsolationMode.SharedContextBaseline)
                {
                    _shared = first;
                }
                else
                {
                    _pool.Enqueue(first);
                }

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

    /// <summary>Prepared contexts ready for a call right now (read from any thread; a hint).</summary>
    public int ReadyContexts => _pool.Count;

    /// <summary>True while either thread runs something (a call, a preparation, a disposal); a hint.</summary>
    public bool IsWorking => Volatile.Read(ref _working) || Volatile.Read(ref _prepWorking);

    /// <summary>Calls accepted and not yet finished (read from any thread; a hint).</summary>
    public int PendingCalls
    {
        get
        {
            lock (_queueGate)
            {
                return _live.Count;
            }
        }
    }

    /// <summary>Fills the context pool in the background.</summary>
    public void Warm() => Post(high: false, Refill);

    /// <summary>Runs one call; invocations are served one at a time in arrival order.</summary>
    /// <param name="subject">Trigger subject.</param>
    /// <param name="payload">Payload bytes.</param>
    /// <param name="cancellationToken">Cancels the wait (the call still ends by itself or by its timeout).</param>
    /// <returns>The reply, or null when the function failed (its error went to stderr).</returns>
    public Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (_thread is null)
        {
            throw new InvalidOperationException("the function was not initialized");
        }

        var invocation = new Invocation(subject, payload.ToArray());
        lock (_queueGate)
        {
            if (_stopping)
            {
                return Task.FromResult<TriggerResult?>(null);
            }

            _live.Add(invocation);
            _high.Enqueue(() => Start(invocation));
            Monitor.Pulse(_queueGate);
        }

        return invocation.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Collects as the host does when its heap fills up, then reports the heap in use (tests).</summary>
    /// <returns>Bytes of V8 heap in use after the collection.</returns>
    internal Task<ulong> CollectAndMeasureAsync()
    {
        var measured = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Post(high: true, () =>
        {
            CollectDeadContexts(_runtime!, exhaustive: false);
            measured.TrySetResult(_runtime!.GetHeapInfo().UsedHeapSize);
        }))
        {
            measured.TrySetException(new InvalidOperationException("the host is stopping"));
        }

        return measured.Task;
    }

    /// <summary>Stops the owner thread: pending calls end without reply, every context and the runtime are disposed.</summary>
    /// <returns>A task that completes when the thread has exited.</returns>
    public Task StopAsync()
    {
        lock (_queueGate)
        {
            if (_thread is null)
            {
                _exited.TrySetResult();
            }

            _stopping = true;
            Monitor.PulseAll(_queueGate);
        }

        lock (_prepGate)
        {
            Monitor.PulseAll(_prepGate);
        }

        return _exited.Task;
    }

    /// <summary>Requests the stop (see <see cref="StopAsync"/>) without waiting: the owner thread disposes the runtime.</summary>
    public void Dispose() => _ = StopAsync();

    private bool Post(bool high, Action action)
    {
        var (gate, queue) = high ? (_queueGate, _high) : (_prepGate, _low);
        lock (gate)
        {
            if (_stopping)
            {
                return false;
            }

            queue.Enqueue(action);
            Monitor.Pulse(gate);
            return true;
        }
    }

    private void Loop(bool prep)
    {
        if (prep)
        {
            // Lowered for good: an unprivileged thread cannot raise its priority again, and never needs to.
            _ = Posix.SetThreadNice(_options.PreparationNice);
        }

        while (true)
        {
            Action action;
            var (gate, queue) = prep ? (_prepGate, _low) : (_queueGate, _high);
            lock (gate)
            {
                while (!_stopping && queue.Count == 0)
                {
                    Monitor.Wait(gate);
                }

                if (_stopping)
                {
                    break;
                }

                action = queue.Dequeue();
            }

            ref var busy = ref prep ? ref _prepWorking : ref _working;
            Volatile.Write(ref busy, true);
            try
            {
                action();
            }
            catch (Exception ex)
            {
                WriteOutput(WorkloadStream.StandardError, $"v8 host error: {ex.Message}");
            }
            finally
            {
                Volatile.Write(ref busy, false);
            }
        }

        if (prep)
        {
            return;
        }

        // Everything is disposed on this thread, once the preparing thread has let go of the runtime.
        _prepThread?.Join();
        Shutdown();
        _exited.TrySetResult();
    }

    private void Shutdown()
    {
        if (_current is { } current)
        {
            current.Fail("function stopped");
            Finish(current);
        }

        Invocation[] pending;
        lock (_queueGate)
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

        while (_pool.TryDequeue(out var prepared))
        {
            prepared.Dispose();
        }

        _shared?.Dispose();
        _shared = null;
        _script?.Dispose();
        _prelude?.Dispose();
        _runtime?.Dispose();
        _runtime = null;
    }

    /// <summary>A fresh context with the prelude and the user's script run and the function bound.</summary>
    private PreparedEngine Prepare()
    {
        // Used contexts leave garbage behind; the sampled heap limit must trip on a function's own
        // allocations, never on that garbage, so collect before building on a half-full heap.
        TrimHeap();
        try
        {
            return PrepareOnce();
        }
        catch (ScriptEngineException)
        {
            // The limit tripped between samples anyway: collect, re-arm, and try once more.
            RecoverRuntime();
            return PrepareOnce();
        }
    }

    private PreparedEngine PrepareOnce()
    {
        var engine = _runtime!.CreateScriptEngine("nex-fn", V8ScriptEngineFlags.None);

        try
        {
            var init = (ScriptObject)engine.Evaluate(_prelude!);
            ScriptObject api;
            try
            {
                api = (ScriptObject)init.Invoke(false, _doneFunction, _callFunction, _logFunction);
            }
            finally
            {
                init.Dispose();
            }

            var value = engine.Evaluate(_script!);
            bool bound;
            try
            {
                bound = api.InvokeMethod("setFn", value) is true;
            }
            finally
            {
                Release(value);
            }

            if (!bound)
            {
                api.Dispose();
                throw new V8FunctionException("failed to convert script result to a function: the script's completion value must be a function (subject, payload) => value");
            }

            return new PreparedEngine(engine, api);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private void Refill()
    {
        lock (_prepGate)
        {
            _refillQueued = false;
        }

        if (_runtime is null || _options.Mode != V8IsolationMode.PooledContexts || _pool.Count >= _options.PoolSize)
        {
            return;
        }

        // One context per work item, so a call arriving meanwhile waits for at most one preparation.
        try
        {
            _pool.Enqueue(Prepare());
        }
        catch (ScriptInterruptedException)
        {
            // A call's timeout interrupts the isolate, and this preparation held it at that moment: try again.
        }

        if (_pool.Count < _options.PoolSize)
        {
            QueueRefill();
        }
    }

    private void QueueRefill()
    {
        lock (_prepGate)
        {
            if (!_refillQueued && _options.Mode == V8IsolationMode.PooledContexts)
            {
                _refillQueued = Post(high: false, Refill);
            }
        }
    }

    private void Start(Invocation invocation)
    {
        if (_current is not null)
        {
            _waiting.Enqueue(invocation);
            return;
        }

        _current = invocation;
        invocation.StartTimestamp = Stopwatch.GetTimestamp();
        try
        {
            invocation.Engine = _options.Mode switch
            {
                V8IsolationMode.SharedContextBaseline => _shared ??= Prepare(),
                _ => _pool.TryDequeue(out var ready) ? ready : Prepare(),
            };
        }
        catch (Exception ex)
        {
            invocation.Fail(ex is ScriptEngineException se ? se.ErrorDetails ?? se.Message : ex.Message);
            Finish(invocation);
            return;
        }

        invocation.Timer = _time.CreateTimer(OnTimeout, invocation, _options.Timeout, Timeout.InfiniteTimeSpan);
        var engine = invocation.Engine;
        Enter(invocation, () =>
        {
            var bytes = MakeBytes(engine, invocation.Payload);
            try
            {
                Release(engine.Api.InvokeMethod("run", invocation.Subject, bytes));
            }
            finally
            {
                Release(bytes);
            }
        });
    }

    private void Settle(Invocation invocation, int id, V8Settlement settlement)
    {
        if (invocation.HasOutcome || !ReferenceEquals(invocation, _current) || invocation.Engine is not { } engine)
        {
            return;
        }

        Enter(invocation, () =>
        {
            object? bytes = settlement.Bytes is { } b ? MakeBytes(engine, b) : null;
            try
            {
                Release(engine.Api.InvokeMethod("settle", id, settlement.Error, bytes ?? settlement.Text, settlement.Text));
            }
            finally
            {
                Release(bytes);
            }
        });
    }

    /// <summary>Runs JavaScript for <paramref name="invocation"/> with the timeout able to interrupt it.</summary>
    private void Enter(Invocation invocation, Action action)
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
                invocation.Fail(ex.ErrorDetails is { Length: > 0 } details ? details : ex.Message);
                RecoverRuntime();
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

    /// <summary>After a V8 failure (e.g. the heap limit): collect and re-arm the limit so later calls run.</summary>
    private void RecoverRuntime()
    {
        if (_runtime is { } runtime)
        {
            CollectDeadContexts(runtime, exhaustive: true);
            runtime.MaxHeapSize = (UIntPtr)_options.MaxMemoryBytes;
        }
    }

    private void Finish(Invocation invocation)
    {
        if (invocation.Finished)
        {
            return;
        }

        invocation.Finished = true;
        lock (_queueGate)
        {
            _live.Remove(invocation);
        }

        var elapsed = Stopwatch.GetElapsedTime(invocation.StartTimestamp);
        invocation.Timer?.Dispose();
        invocation.Abort.Cancel();
        if (ReferenceEquals(_current, invocation))
        {
            _current = null;
        }

        // Answer first, so the reply leaves while the used context is cleaned up.
        if (invocation.Error is { } error)
        {
            WriteOutput(WorkloadStream.StandardError, error);
            invocation.Completion.TrySetResult(null);
        }
        else
        {
            invocation.Completion.TrySetResult(new TriggerResult(invocation.Result ?? [], (long)(elapsed.Ticks * 100)));
        }

        if (invocation.Engine is { } engine)
        {
            if (invocation.TimedOut)
            {
                engine.Engine.CancelInterrupt();
            }

            if (_options.Mode == V8IsolationMode.SharedContextBaseline && invocation.Error is null)
            {
                // Baseline only: the context is reused as is.
            }
            else
            {
                if (ReferenceEquals(_shared, engine))
                {
                    _shared = null;
                }

                // High priority, not low: under a steady stream of calls low-priority disposals
                // starved and used contexts piled up until the heap limit interrupted a call. Not
                // inline either: this may run inside the engine's own callback.
                Post(high: true, () =>
                {
                    engine.Dispose();
                    TrimHeap();
                });
            }
        }

        QueueRefill();
        if (_waiting.TryDequeue(out var next))
        {
            Post(high: true, () => Start(next));
        }
    }

    private string TimeoutMessage() =>
        $"function execution timed out after {_options.Timeout.TotalMilliseconds:0} ms";

    private void OnTimeout(object? state)
    {
        var invocation = (Invocation)state!;
        lock (_interruptGate)
        {
            if (invocation.HasOutcome || invocation.Finished)
            {
                return;
            }

            invocation.TimedOut = true;
            if (ReferenceEquals(_running, invocation))
            {
                invocation.Engine?.Engine.Interrupt();
            }
        }

        // Not running JavaScript right now (awaiting a host service): end it from the owner thread.
        Post(high: true, () =>
        {
            if (!invocation.Finished)
            {
                invocation.Fail(TimeoutMessage());
                Finish(invocation);
            }
        });
    }

    private static object MakeBytes(PreparedEngine engine, byte[] bytes)
    {
        var array = engine.Api.InvokeMethod("mk", bytes.Length);
        if (bytes.Length > 0)
        {
            ((ITypedArray<byte>)array).Write(bytes, 0, (ulong)bytes.Length, 0);
        }

        return array;
    }

    private static byte[] ReadBytes(object? value)
    {
        try
        {
            return value switch
            {
                ITypedArray<byte> array => array.ToArray(),
                string text => Encoding.UTF8.GetBytes(text),
                _ => [],
            };
        }
        finally
        {
            Release(value);
        }
    }

    /// <summary>
    /// Releases the V8 handle behind a script object now. Left to the .NET finalizer, every handle keeps its
    /// whole (disposed) context alive: the heap then stays full of dead contexts and each collection marks
    /// all of them (measured: 200–330 ms collections every few calls, and 80 calls/s instead of hundreds).
    /// </summary>
    private static void Release(object? value)
    {
        if (value is IDisposable disposable)
        {
            disposable.Dispose();
        }
    }

    // JS: done(ok, value) — value is the Uint8Array or the JSON text (ok) or the error text (not ok).
    private void OnDone(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        if (_current is not { HasOutcome: false } invocation)
        {
            return;
        }

        if (args.GetBoolean(0))
        {
            invocation.Succeed(ReadBytes(args.Get<object>(1)));
        }
        else
        {
            invocation.Fail(args.GetString(1));
        }
    }

    // JS: call(id, service, method, h1n, h1v, h2n, h2v, body, kind).
    private void OnCall(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        if (_current is not { HasOutcome: false } invocation)
        {
            throw new InvalidOperationException("host services are only available while the function runs");
        }

        var id = args.GetInt32(0);
        var service = args.GetString(1);
        var method = args.GetString(2);
        var headers = new Dictionary<string, string>(2);
        for (var i = 3; i <= 5; i += 2)
        {
            if (!args.IsNull(i) && !args.IsUndefined(i))
            {
                headers[args.GetString(i)] = args.GetString(i + 1);
            }
        }

        byte[] body = args.IsNull(7) || args.IsUndefined(7) ? [] : ReadBytes(args.Get<object>(7));
        var kind = args.GetInt32(8);
        _ = CallAsync(invocation, id, service, method, headers, body, kind);
    }

    private async Task CallAsync(Invocation invocation, int id, string service, string method, Dictionary<string, string> headers, byte[] body, int kind)
    {
        // Leave the owner thread at once: the request must not run inside the engine call.
        await Task.Yield();
        V8Settlement settlement;
        try
        {
            if (_hostServices is null)
            {
                throw new HostServiceException("host services are not available (500)", 500);
            }

            var reply = await _hostServices.InvokeAsync(service, method, headers, body, invocation.Abort.Token).ConfigureAwait(false);
            settlement = V8Settlement.FromReply(kind, reply);
        }
        catch (Exception ex)
        {
            settlement = new V8Settlement(ex.Message, null, null);
        }

        Post(high: true, () => Settle(invocation, id, settlement));
    }

    // JS: log(stream, text).
    private void OnLog(bool asConstructor, in V8FastArgs args, in V8FastResult result) =>
        WriteOutput(args.GetInt32(0) == 1 ? WorkloadStream.StandardError : WorkloadStream.StandardOutput, args.GetString(1));

    private void WriteOutput(WorkloadStream stream, string text) => _output.TryWrite((stream, text.EndsWith('\n') ? text : text + "\n"));

    // Disposed contexts leave garbage in the shared runtime until V8 decides to collect it, and
    // ClearScript's sampled heap limit can trip first, failing an innocent call: collect once the
    // heap is half way to the limit, after the reply has gone.
    private void TrimHeap()
    {
        if (_runtime is { } runtime && runtime.GetHeapInfo().UsedHeapSize > (ulong)(_options.MaxMemoryBytes / 2))
        {
            CollectDeadContexts(runtime, exhaustive: false);
        }
    }

    /// <summary>
    /// Frees the disposed contexts. ClearScript leaves some of its own handles into each context to the .NET
    /// finalizer, and one live handle keeps its whole context alive, so a V8 collection alone freed nothing:
    /// the heap stayed full of dead contexts and every collection marked them all (measured: 200–330 ms
    /// collections every few calls, 80 calls/s). Finalizing those handles first lets V8 free the contexts
    /// (a 32 MiB heap goes back to 0.5 MiB in 5–40 ms).
    /// </summary>
    private static void CollectDeadContexts(V8Runtime runtime, bool exhaustive)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        runtime.CollectGarbage(exhaustive);
    }

    /// <summary>Process-wide V8 settings, applied before the first runtime exists.</summary>
    private static void ConfigureProcess()
    {
        lock (ProcessGate)
        {
            if (_processConfigured)
            {
                return;
            }

            NativeLibraries.Register(typeof(V8Runtime).Assembly, "ClearScriptV8", "ClearScriptV8.linux-x64.so");

            // ClearScript runs V8's background work (concurrent marking, sweeping) on the .NET thread pool,
            // where NATS.Net's socket loops run too: on 2 cores a marking task delayed replies. Without
            // it V8 collects on the lane's own thread, after the reply has gone and while the other lane
            // answers (measured: p99 8–13 ms instead of 19–25 ms, throughput +10%, median unchanged).
            V8Settings.GlobalFlags |= V8GlobalFlags.DisableBackgroundWork;
            _processConfigured = true;
        }
    }

    /// <summary>One prepared context: the engine and the prelude's API object.</summary>
    private sealed class PreparedEngine(V8ScriptEngine engine, ScriptObject api) : IDisposable
    {
        public V8ScriptEngine Engine { get; } = engine;

        public ScriptObject Api { get; } = api;

        public void Dispose()
        {
            Api.Dispose();
            Engine.Dispose();
        }
    }

    /// <summary>One call. Outcome fields are written on the owner thread; the flags read by the timer are volatile.</summary>
    private sealed class Invocation(string subject, byte[] payload)
    {
        private volatile bool _hasOutcome;
        private volatile bool _timedOut;
        private volatile bool _finished;

        public string Subject { get; } = subject;

        public byte[] Payload { get; } = payload;

        // Completed on the owner thread outside any JavaScript; the waiting caller (the agent, which then
        // replies) resumes right there, before the used context is disposed and the next one prepared:
        // a hop through the thread pool cost ~20% of a V8 round trip while the preparation took the CPU.
        public TaskCompletionSource<TriggerResult?> Completion { get; } = new(TaskCreationOptions.None);

        public CancellationTokenSource Abort { get; } = new();

        public PreparedEngine? Engine { get; set; }

        public ITimer? Timer { get; set; }

        public long StartTimestamp { get; set; }

        public byte[]? Result { get; private set; }

        public string? Error { get; private set; }

        public bool HasOutcome => _hasOutcome;

        public bool TimedOut
        {
            get => _timedOut;
            set => _timedOut = value;
        }

        public bool Finished
        {
            get => _finished;
            set => _finished = value;
        }

        public void Succeed(byte[] result)
        {
            if (!_hasOutcome)
            {
                Result = result;
                _hasOutcome = true;
            }
        }

        public void Fail(string error)
        {
            if (!_hasOutcome)
            {
                Error = error;
                _hasOutcome = true;
            }
        }
    }
}
