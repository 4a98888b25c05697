using System.Collections.Concurrent;
using Microsoft.ClearScript;
using Microsoft.ClearScript.V8;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// The contexts of one lane: compiles the prelude and the user's script once into the lane's runtime,
/// prepares fresh contexts from them (on the preparing thread, one per work item, up to
/// <see cref="V8Options.PoolSize"/> ahead in <see cref="V8IsolationMode.PooledContexts"/>), hands one to
/// each call on the owner thread (preparing it there when none is ready) and disposes it after the call —
/// except in <see cref="V8IsolationMode.ReusedContext"/>, where one context serves every call until a call
/// fails, and one spare is kept ready to replace it. The pool itself is the only state both threads touch.
/// </summary>
internal sealed class V8ContextPool : IDisposable
{
    private const string PreludeName = "nex-prelude.js";

    private readonly V8Options _options;
    private readonly V8Heap _heap;
    private readonly V8ThreadScheduler _scheduler;
    private readonly V8HostBridge _bridge;
    private readonly Action _refill;
    private readonly Lock _refillGate = new(); // _refillQueued

    // Filled by the preparing thread, taken by the owner thread; others read its count to pick a lane.
    private readonly ConcurrentQueue<V8PreparedContext> _ready = new();

    // Owner-thread state (the compiled scripts are set before the preparing thread gets work).
    private V8Script? _prelude;
    private V8FunctionScript? _script;
    private V8PreparedContext? _shared;
    private bool _refillQueued;

    /// <summary>Creates the pool; nothing is compiled until <see cref="Initialize"/>.</summary>
    /// <param name="options">Mode and pool size.</param>
    /// <param name="heap">The lane's runtime and heap limits.</param>
    /// <param name="scheduler">The lane's threads (preparations and disposals are posted there).</param>
    /// <param name="bridge">The host functions every context gets.</param>
    public V8ContextPool(V8Options options, V8Heap heap, V8ThreadScheduler scheduler, V8HostBridge bridge)
    {
        _options = options;
        _heap = heap;
        _scheduler = scheduler;
        _bridge = bridge;
        _refill = Refill;
    }

    /// <summary>Prepared contexts ready for a call right now (read from any thread; a hint).</summary>
    public int ReadyCount => _ready.Count;

    /// <summary>Creates the runtime, compiles both scripts and prepares the first context (owner thread).</summary>
    /// <param name="source">The JavaScript source.</param>
    public void Initialize(string source)
    {
        var runtime = _heap.CreateRuntime();
        _prelude = runtime.Compile(PreludeName, V8Prelude.Source);
        _script = V8FunctionScript.Compile(runtime, source);
        var first = Prepare();
        if (_options.Mode == V8IsolationMode.ReusedContext)
        {
            _shared = first;
        }
        else
        {
            _ready.Enqueue(first);
        }
    }

    /// <summary>Fills the pool in the background.</summary>
    public void Warm() => _scheduler.PostPreparation(_refill);

    /// <summary>A context for the next call: a ready one, else one prepared now (owner thread).</summary>
    /// <returns>The context.</returns>
    public V8PreparedContext Take() => _options.Mode switch
    {
        V8IsolationMode.ReusedContext => _shared ??= TakeReady(),
        _ => TakeReady(),
    };

    /// <summary>Gives back the context of a finished call (owner thread): disposed, or kept when reused.</summary>
    /// <param name="context">The context.</param>
    /// <param name="failed">Whether the call failed (a failed context is never reused).</param>
    public void Return(V8PreparedContext context, bool failed)
    {
        if (_options.Mode == V8IsolationMode.ReusedContext && !failed && ReferenceEquals(_shared, context))
        {
            // Reused as is: its globals are the function's state between calls.
            return;
        }

        if (ReferenceEquals(_shared, context))
        {
            _shared = null;
        }

        // High priority, not low: under a steady stream of calls low-priority disposals
        // starved and used contexts piled up until the heap limit interrupted a call. Not
        // inline either: this may run inside the engine's own callback.
        _scheduler.PostOwner(() =>
        {
            context.Dispose();
            _heap.Trim();
        });
    }

    /// <summary>Queues one preparation unless one is queued already or enough are ready (pooled and reused modes).</summary>
    public void QueueRefill()
    {
        if (_ready.Count >= _options.ReadyTarget)
        {
            // Nothing to do: do not wake the preparing thread (in reuse mode, this is every call).
            return;
        }

        lock (_refillGate)
        {
            if (!_refillQueued)
            {
                _refillQueued = _scheduler.PostPreparation(_refill);
            }
        }
    }

    /// <summary>Disposes every context and both scripts (owner thread, at shutdown).</summary>
    public void Dispose()
    {
        while (_ready.TryDequeue(out var prepared))
        {
            prepared.Dispose();
        }

        _shared?.Dispose();
        _shared = null;
        _script?.Dispose();
        _prelude?.Dispose();
    }

    private V8PreparedContext TakeReady() => _ready.TryDequeue(out var ready) ? ready : Prepare();

    /// <summary>A fresh context with the prelude and the user's script run and the function bound.</summary>
    private V8PreparedContext Prepare()
    {
        // Used contexts leave garbage behind; the sampled heap limit must trip on a function's own
        // allocations, never on that garbage, so collect before building on a half-full heap.
        _heap.Trim();
        try
        {
            return PrepareOnce();
        }
        catch (ScriptEngineException)
        {
            // The limit tripped between samples anyway: collect, re-arm, and try once more.
            _heap.Recover();
            return PrepareOnce();
        }
    }

    private V8PreparedContext PrepareOnce()
    {
        var engine = _heap.Runtime!.CreateScriptEngine("nex-fn", V8FunctionScript.EngineFlags);

        try
        {
            var init = (ScriptObject)engine.Evaluate(_prelude!);
            ScriptObject api;
            try
            {
                api = (ScriptObject)init.Invoke(false, _bridge.Done, _bridge.Call, _bridge.Take, _bridge.Log, _bridge.Fill);
            }
            finally
            {
                init.Dispose();
            }

            var value = _script!.Evaluate(engine);
            bool bound;
            try
            {
                bound = api.InvokeMethod("setFn", value) is true;
            }
            finally
            {
                V8HostBridge.Release(value);
            }

            if (!bound)
            {
                api.Dispose();
                throw new V8FunctionException(_script.IsModule
                    ? "failed to convert script result to a function: the module's default export must be a function (subject, payload) => value"
                    : "failed to convert script result to a function: the script's completion value must be a function (subject, payload) => value");
            }

            return new V8PreparedContext(engine, api);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
    }

    private void Refill()
    {
        lock (_refillGate)
        {
            _refillQueued = false;
        }

        if (_heap.Runtime is null || _ready.Count >= _options.ReadyTarget)
        {
            return;
        }

        // One context per work item, so a call arriving meanwhile waits for at most one preparation.
        try
        {
            _ready.Enqueue(Prepare());
        }
        catch (ScriptInterruptedException)
        {
            // A call's timeout interrupts the isolate, and this preparation held it at that moment: try again.
        }

        if (_ready.Count < _options.ReadyTarget)
        {
            QueueRefill();
        }
    }
}
