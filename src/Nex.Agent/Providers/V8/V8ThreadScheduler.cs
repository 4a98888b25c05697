using Nex.Processes;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// The two dedicated threads of one lane, each with its own work queue: the owner thread runs calls
/// and disposals; the preparing thread, at the lowest priority (<c>SCHED_IDLE</c>, and nice 19), prepares
/// the next contexts. V8 lets one thread at a time into the isolate, and at that priority a preparation
/// never delays a reply: on this design's 2-core target, the reply used to wait behind it (measured: the
/// median call 30% slower). The only wait here is a host-service call (V8HostBridge), on a request whose
/// continuations never need the engine, so the ClearScript continuation deadlock (dependencies §4) cannot
/// happen; timeouts are only posted here. A caller may run owner work itself when the owner has none
/// (<see cref="TryRunOwner"/>): one lock makes whoever runs it the owner for that time. On stop, queued work is
/// dropped and the owner thread, once the preparing thread has let go of the runtime and no caller runs owner work,
/// runs the shutdown that disposes everything.
/// </summary>
internal sealed class V8ThreadScheduler
{
    private const int StackSize = 16 * 1024 * 1024;

    // Each thread waits on its own gate, so a call never wakes the preparing thread for nothing.
    private readonly object _ownerGate = new();
    private readonly object _prepGate = new();

    // Held by whoever runs the owner's work: the owner thread for each item, or a caller running one inline.
    private readonly Lock _run = new();
    private readonly Queue<Action> _owner = new();
    private readonly Queue<Action> _prep = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _preparationNice;
    private readonly Action<Exception> _onError;
    private readonly Action _onShutdown;
    private Thread? _thread;
    private Thread? _prepThread;
    private volatile bool _stopping;

    // Read from other threads to pick a lane.
    private bool _working;
    private bool _prepWorking;

    /// <summary>Creates the scheduler; no thread runs until <see cref="Start"/>.</summary>
    /// <param name="preparationNice">Nice value of the preparing thread.</param>
    /// <param name="onError">Called on the failing thread when a work item throws (the thread goes on).</param>
    /// <param name="onShutdown">Run on the owner thread when it stops, after the preparing thread has exited.</param>
    public V8ThreadScheduler(int preparationNice, Action<Exception> onError, Action onShutdown)
    {
        _preparationNice = preparationNice;
        _onError = onError;
        _onShutdown = onShutdown;
    }

    /// <summary>True once <see cref="Start"/> ran.</summary>
    public bool IsStarted => _thread is not null;

    /// <summary>True while either thread runs something (a call, a preparation, a disposal); a hint.</summary>
    public bool IsWorking => Volatile.Read(ref _working) || Volatile.Read(ref _prepWorking);

    /// <summary>True when neither thread runs anything and nothing is queued for either.</summary>
    public bool IsIdle
    {
        get
        {
            lock (_ownerGate)
            {
                lock (_prepGate)
                {
                    return !IsWorking && _owner.Count == 0 && _prep.Count == 0;
                }
            }
        }
    }

    /// <summary>Starts both threads.</summary>
    /// <exception cref="InvalidOperationException">Already started.</exception>
    public void Start()
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("the function was already initialized");
        }

        _thread = new Thread(() => Loop(prep: false), StackSize) { IsBackground = true, Name = "nex-v8" };
        _thread.Start();
        _prepThread = new Thread(() => Loop(prep: true), StackSize) { IsBackground = true, Name = "nex-v8-prep" };
        _prepThread.Start();
    }

    /// <summary>Queues work for the owner thread.</summary>
    /// <param name="action">The work.</param>
    /// <returns>False when stopping (the work will not run).</returns>
    public bool PostOwner(Action action) => Post(_ownerGate, _owner, action);

    /// <summary>Runs owner work on the calling thread when the owner has nothing queued or running.</summary>
    /// <param name="action">The work.</param>
    /// <returns>False when the owner is busy or stopping (nothing ran: post it instead).</returns>
    public bool TryRunOwner(Action action)
    {
        if (!_run.TryEnter())
        {
            return false;
        }

        try
        {
            lock (_ownerGate)
            {
                if (_stopping || _owner.Count > 0)
                {
                    return false;
                }
            }

            Run(action, ref _working);
            return true;
        }
        finally
        {
            _run.Exit();
        }
    }

    /// <summary>Queues work for the preparing thread.</summary>
    /// <param name="action">The work.</param>
    /// <returns>False when stopping (the work will not run).</returns>
    public bool PostPreparation(Action action) => Post(_prepGate, _prep, action);

    /// <summary>Stops both threads: queued work is dropped, the shutdown runs on the owner thread.</summary>
    /// <returns>A task that completes when the owner thread has exited (at once when never started).</returns>
    public Task StopAsync()
    {
        lock (_ownerGate)
        {
            if (_thread is null)
            {
                _exited.TrySetResult();
            }

            _stopping = true;
            Monitor.PulseAll(_ownerGate);
        }

        lock (_prepGate)
        {
            Monitor.PulseAll(_prepGate);
        }

        return _exited.Task;
    }

    private void RunNext(object gate, Queue<Action> queue, ref bool busy)
    {
        Action action;
        lock (gate)
        {
            if (_stopping || !queue.TryDequeue(out action!))
            {
                return;
            }

            // Busy from the moment the item leaves its queue, so the lane never looks idle with work in hand.
            Volatile.Write(ref busy, true);
        }

        Run(action, ref busy);
    }

    private void Run(Action action, ref bool busy)
    {
        Volatile.Write(ref busy, true);
        try
        {
            action();
        }
        catch (Exception ex)
        {
            _onError(ex);
        }
        finally
        {
            Volatile.Write(ref busy, false);
        }
    }

    private bool Post(object gate, Queue<Action> queue, Action action)
    {
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
            // Lowered for good: an unprivileged thread cannot raise its priority again, and never needs to. The nice
            // value alone does not do it: the node starts each agent in a session of its own, and Linux's autogroups
            // weigh each session as a whole against the others (nats-server, the node), so a nice value only
            // ranks the agent's own threads, and a preparation took a full core's share from the reply path.
            // Under SCHED_IDLE any thread that wakes on its CPU preempts it at once (measured, bench/run
            // --functions v8, alternated runs: p50 above the floor 683–1,046 µs against 885–987, p99 3.3–5.7 ms
            // against 4.5–6.0). The nice value stays, for kernels without SCHED_IDLE.
            _ = Posix.SetThreadNice(_preparationNice);
            _ = Posix.SetThreadIdlePolicy();
        }

        var (gate, queue) = prep ? (_prepGate, _prep) : (_ownerGate, _owner);
        while (true)
        {
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
            }

            if (prep)
            {
                RunNext(gate, queue, ref _prepWorking);
            }
            else
            {
                // From before the item is taken until it has run: a caller then never runs a call inline
                // ahead of one already taken (calls keep their order).
                lock (_run)
                {
                    RunNext(gate, queue, ref _working);
                }
            }
        }

        if (prep)
        {
            return;
        }

        // Everything is disposed on this thread, once the preparing thread has let go of the runtime
        // and no caller runs a call inline.
        _prepThread?.Join();
        lock (_run)
        {
            _onShutdown();
        }

        _exited.TrySetResult();
    }
}
