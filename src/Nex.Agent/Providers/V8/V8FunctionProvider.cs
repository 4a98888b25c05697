using System.Text;
using System.Threading.Channels;
using Nex.Agent.HostServices;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// A V8 JavaScript function (spec §5.10) on ClearScript 7.5.1.1: the script's completion value (or, for an ES
/// module, its default export; see <see cref="V8FunctionScript"/>) is the
/// function <c>(subject, payload) =&gt; value</c>; each trigger calls it with the real subject and a
/// <c>Uint8Array</c> of the exact payload bytes and replies with the returned Uint8Array's bytes or
/// <c>JSON.stringify</c> of anything else (a Promise is awaited), with <c>x-nex-runtime-ns</c>. Errors and
/// timeouts (a real <c>Interrupt</c>) give no reply and go to the workload's stderr; the heap is capped
/// per function; <c>hostServices</c> and <c>console</c> are in every context.
/// </summary>
/// <remarks>
/// <para>
/// <b>Isolation.</b> As 0.2, every call runs in a context nobody used before, so a global set by one call is
/// invisible to the next. Creating a ClearScript context, running the prelude and the compiled script and
/// binding the function costs ~0.5–1 ms, so it is kept off the hot path: each <see cref="V8EngineHost"/> (one
/// <c>V8Runtime</c>, i.e. one isolate) keeps a pool of <see cref="V8Options.PoolSize"/> prepared contexts,
/// takes one per call and disposes it after the reply, while a low-priority thread prepares the next. With
/// one host, calls that come back to back (less than a preparation apart) found it busy preparing and waited
/// for it: the pool degraded to fresh-context-per-call cost. So there are <see cref="V8Options.Lanes"/> (3)
/// hosts, and a call goes to one with a context ready and nothing to do: while some prepare, another
/// answers. Calls still run one at a time (the agent serves triggers in order); the price is two more
/// isolates (about 5 MiB each) once a V8 function is deployed.
/// </para>
/// <para>
/// Measured earlier (2-core machine under load; µs, median / p99): create a context and run the script
/// 433–449 / 6 900–16 000, dispose 6 / 2 300–5 800, first call on a prepared context 15 / 71 (the hot path).
/// <c>V8IsolationBenchmarkTests</c> (<c>NEX_V8_BENCH=1</c>) compares the modes through <see cref="ExecuteAsync"/>.
/// Alternatives rejected: resetting one context's globals (cannot undo prototype or builtin mutation, so
/// not a guarantee); one runtime per call (2.5 ms and ~1 MB each).
/// </para>
/// <para>
/// <b>Reuse.</b> With <c>"function_context": "reuse"</c> (<see cref="V8IsolationMode.ReusedContext"/>) there is one
/// lane and one context kept across calls (globals persist, as in Cloudflare Workers and AWS Lambda); a failed call
/// (exception, timeout, out of memory) leaves its context, and the next call takes a spare prepared ahead. Nothing
/// is prepared between calls, so one lane is enough. A call then runs on the trigger's own thread when the lane is
/// idle, not on the lane's owner thread: a reused context needs no preparation or disposal around the call, and the
/// hand-off cost a thread wake-up per call (alternated pairs: p50 about 100 µs lower), as it did for WASM.
/// </para>
/// <para>
/// <b>Fresh calls on the trigger's thread.</b> A fresh-context call is handed to its lane's owner thread, except when
/// nothing else is in flight, its lane is idle with a context ready, and the function's last call took less than
/// <see cref="V8Options.InlineBelow"/> (1 ms): then it runs on the trigger's thread, as a reused context's call does,
/// sparing a wake-up (six alternated pairs, sequential p50 lower by 0–560 µs, median about 140; 8 callers unchanged).
/// Such a call holds the agent's read loop; a message arriving meanwhile waits for it, hence the bound.
/// </para>
/// <para>
/// A consequence of preparing ahead: the script's top-level code runs when the context is prepared,
/// not when the trigger arrives (host services are unavailable there: they throw).
/// </para>
/// </remarks>
internal sealed class V8FunctionProvider : IWorkloadProvider
{
    private readonly WorkloadContext _context;
    private readonly V8Options _options;
    private readonly Channel<(WorkloadStream Stream, string Text)> _output = Channel.CreateUnbounded<(WorkloadStream, string)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly V8EngineHost[] _lanes;
    private readonly V8RecentCalls _recent = new();
    private int _next;
    private readonly Task _outputPump;
    private int _stopped;

    /// <summary>Creates the provider with the request's limits.</summary>
    /// <param name="context">The deploy.</param>
    public V8FunctionProvider(WorkloadContext context)
        : this(context, V8Options.From(context.Request))
    {
    }

    /// <summary>Creates the provider with explicit options (tests, measurements).</summary>
    /// <param name="context">The deploy.</param>
    /// <param name="options">Limits and isolation mode.</param>
    public V8FunctionProvider(WorkloadContext context, V8Options options)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        _options = options;
        var hostServices = new HostServicesClient(context.Connection, context.AgentId, context.Request.Namespace, context.Request.WorkloadName);
        _lanes = [.. Enumerable.Range(0, options.EffectiveLanes).Select(_ => new V8EngineHost(options, hostServices, _output.Writer, context.Time, _recent))];
        _outputPump = PumpOutputAsync();
    }

    /// <inheritdoc />
    public bool SupportsTriggers => true;

    /// <inheritdoc />
    public Task<int> Completion => _completion.Task;

    /// <inheritdoc />
    public async Task ValidateAsync(CancellationToken cancellationToken)
    {
        var source = await File.ReadAllBytesAsync(_context.ArtifactPath, cancellationToken).ConfigureAwait(false);
        if (source.Length > _options.MaxSourceBytes)
        {
            throw new V8FunctionException($"source file ({source.Length} bytes) exceeds maximum of {_options.MaxSourceBytes} bytes");
        }

        var text = Encoding.UTF8.GetString(source);
        try
        {
            await Task.WhenAll(_lanes.Select(lane => lane.InitializeAsync(text, cancellationToken))).ConfigureAwait(false);
        }
        catch
        {
            // One lane's failure is the script's: report the first, stop them all.
            await Task.WhenAll(_lanes.Select(lane => lane.StopAsync())).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public Task DeployAsync(CancellationToken cancellationToken)
    {
        foreach (var lane in _lanes)
        {
            lane.Warm();
        }

        if (_options.Mode == V8IsolationMode.ReusedContext || (_options.Mode == V8IsolationMode.PooledContexts && _options.InlineBelow > TimeSpan.Zero))
        {
            // Its calls (a reused context's, or a quick function's when the agent is idle) run on the trigger's thread.
            TriggerThread.EnsureASecondWorker();
        }

        return Task.CompletedTask;
    }

    /// <summary>No call in flight, and every lane idle with its contexts ready (read from any thread; tests wait for it).</summary>
    internal bool IsSettled => _lanes.All(lane => lane.PendingCalls == 0 && lane.IsIdle && lane.ReadyContexts >= _options.ReadyTarget);

    /// <summary>Calls accepted and not yet finished, all lanes (read from any thread; a hint).</summary>
    internal int PendingCalls
    {
        get
        {
            var pending = 0;
            foreach (var lane in _lanes)
            {
                pending += lane.PendingCalls;
            }

            return pending;
        }
    }

    /// <inheritdoc />
    public Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var lane = PickLane();
        return lane.ExecuteAsync(subject, payload, MayRunHere(lane), cancellationToken);
    }

    /// <inheritdoc />
    public async Task UndeployAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await Task.WhenAll(_lanes.Select(lane => lane.StopAsync())).ConfigureAwait(false);
            _output.Writer.TryComplete();
        }

        await _outputPump.WaitAsync(cancellationToken).ConfigureAwait(false);
        _completion.TrySetResult(0);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await UndeployAsync(CancellationToken.None).ConfigureAwait(false);

    // A fresh-context call runs on the trigger's thread, sparing the hand-off to its lane's owner thread (a wake-up),
    // only when that cannot hold up another call: nothing else in flight, its lane idle with a context ready (so no
    // preparation on this thread), and the function quick the last time (a message arriving meanwhile waits for it).
    private bool MayRunHere(V8EngineHost lane) =>
        _options.Mode == V8IsolationMode.PooledContexts && _recent.LastWasUnder(_options.InlineBelow)
        && !lane.IsWorking && lane.ReadyContexts > 0 && PendingCalls == 0;

    // An idle lane with a context ready; else the one with the least to do. Round robin among equals,
    // so both lanes' contexts get used and neither's pool goes stale.
    private V8EngineHost PickLane()
    {
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)_lanes.Length);
        V8EngineHost? best = null;
        V8EngineHost? ready = null;
        for (var i = 0; i < _lanes.Length; i++)
        {
            var lane = _lanes[(start + i) % _lanes.Length];
            if (lane.PendingCalls == 0 && lane.ReadyContexts > 0)
            {
                if (!lane.IsWorking)
                {
                    return lane; // answers at once
                }

                ready ??= lane; // answers once its current preparation or disposal is done
            }

            if (best is null || lane.PendingCalls < best.PendingCalls || (lane.PendingCalls == best.PendingCalls && lane.ReadyContexts > best.ReadyContexts))
            {
                best = lane;
            }
        }

        return ready ?? best!;
    }

    private async Task PumpOutputAsync()
    {
        await foreach (var (stream, text) in _output.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            await _context.Output.WriteAsync(stream, text, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
