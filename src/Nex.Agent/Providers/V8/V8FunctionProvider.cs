using System.Text;
using System.Threading.Channels;
using Nex.Agent.HostServices;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// A V8 JavaScript function (spec §5.10) on ClearScript 7.5.1.1: the script's completion value is the
/// function <c>(subject, payload) =&gt; value</c>; each trigger calls it with the real subject and a
/// <c>Uint8Array</c> of the exact payload bytes and replies with the returned Uint8Array's bytes or
/// <c>JSON.stringify</c> of anything else (a Promise is awaited), with <c>x-nex-runtime-ns</c>. Errors and
/// timeouts (a real <c>Interrupt</c>) give no reply and go to the workload's stderr; the heap is capped
/// per function; <c>hostServices</c> and <c>console</c> are in every context.
/// </summary>
/// <remarks>
/// <para>
/// <b>Isolation.</b> As 0.2, every call runs in a context nobody used before, so a global set by one call is
/// invisible to the next. The contexts live in one <c>V8Runtime</c> (one isolate) owned by one thread
/// (<see cref="V8EngineHost"/>). Creating a ClearScript context, running the prelude and the compiled
/// script and binding the function costs ~1 ms, so it is kept off the hot path: a pool of
/// <see cref="V8Options.PoolSize"/> (2) prepared contexts is taken from on a call, and the used context is
/// disposed and a new one prepared as low-priority work on the owner thread when no call waits. A call
/// that arrives while a preparation runs waits for at most that one preparation (~1 ms).
/// </para>
/// <para>
/// Measured (2-core machine at load average ~10 from parallel builds, so tails are noisy; µs, median / p99):
/// raw ClearScript on one runtime, 300 rounds: create a context and run the script 433–449 / 6 900–16 000,
/// dispose 6 / 2 300–5 800, first call on an already prepared context 15 / 71 (that is the pooled hot path);
/// <c>V8IsolationBenchmarkTests</c> (<c>NEX_V8_BENCH=1</c>, 2 000 echo calls through <see cref="ExecuteAsync"/>):
/// one reused context (NO isolation, baseline) 37 / 98 back to back; fresh context per call 800 / 73 000;
/// pooled 694 / 50 500 back to back (the refill then runs between every two calls, so it degrades to
/// fresh-per-call cost); with 2 ms gaps the machine's wake-up latency dominated (baseline 305 / 3 500,
/// fresh 1 212, pooled 1 102) and did not separate the designs: re-measure on a quiet machine.
/// Alternatives rejected: resetting one context's globals (cannot undo prototype or builtin mutation, so
/// not a guarantee); one runtime per call (2.5 ms and ~1 MB each).
/// </para>
/// <para>
/// A consequence of preparing ahead: the script's top-level code runs when the context is prepared,
/// not when the trigger arrives (host services are unavailable there: they reject).
/// </para>
/// </remarks>
internal sealed class V8FunctionProvider : IWorkloadProvider
{
    private readonly WorkloadContext _context;
    private readonly V8Options _options;
    private readonly Channel<(WorkloadStream Stream, string Text)> _output = Channel.CreateUnbounded<(WorkloadStream, string)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly V8EngineHost _host;
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
        _host = new V8EngineHost(options, hostServices, _output.Writer, context.Time);
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

        await _host.InitializeAsync(Encoding.UTF8.GetString(source), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task DeployAsync(CancellationToken cancellationToken)
    {
        _host.Warm();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        _host.ExecuteAsync(subject, payload, cancellationToken);

    /// <inheritdoc />
    public async Task UndeployAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _host.StopAsync().ConfigureAwait(false);
            _output.Writer.TryComplete();
        }

        await _outputPump.WaitAsync(cancellationToken).ConfigureAwait(false);
        _completion.TrySetResult(0);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await UndeployAsync(CancellationToken.None).ConfigureAwait(false);

    private async Task PumpOutputAsync()
    {
        await foreach (var (stream, text) in _output.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            await _context.Output.WriteAsync(stream, text, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
