using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Nex.Agent.HostServices;
using Nex.Protocol;
using Wasmtime;

namespace Nex.Agent.Providers.Wasm;

/// <summary>
/// A WASM function (spec §5.11) run with Wasmtime: the module is compiled once at validation; each trigger
/// instantiates it afresh in a new <see cref="Store"/> and runs <c>_start</c> as a WASI preview 1 command
/// with <c>argv = ["nexfunction", subject]</c> (the real trigger subject, §11 #8), stdin = the payload,
/// stdout captured with every write concatenated (§11 #9), stderr forwarded to the workload's log, and the
/// request's environment (keys as given). A non-zero exit or a trap is answered as a failure (500; 507 when the
/// function ran out of its memory limit), a timeout too (408); empty stdout means no reply. Limits: <c>function_timeout_ms</c> (default 5 s, epoch interruption) and
/// <c>max_memory_bytes</c> (default 64 MiB of linear memory). Host services come through the <c>nex</c>
/// imports (<see cref="NexHostImports"/>). Executions run one at a time, each on the thread of the trigger that
/// asked for it.
/// </summary>
internal sealed partial class WasmFunctionProvider : IWorkloadProvider
{
    /// <summary>Time limit when the request sets none.</summary>
    public const int DefaultTimeoutMs = 5_000;

    /// <summary>Linear memory limit when the request sets none.</summary>
    public const long DefaultMaxMemoryBytes = 64L * 1024 * 1024;

    private const string ProgramName = "nexfunction";

    // WebAssembly's own stack limit, set rather than left to Wasmtime's default: an execution runs on the
    // trigger's thread (a thread-pool thread, whose stack we do not size), and the host functions a guest
    // calls, the blocking host_call included, need the rest beneath it. Deep recursion then traps
    // ("call stack exhausted").
    private const int MaxWasmStackBytes = 512 * 1024;

    private readonly WorkloadContext _context;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();

    // Held by the one execution running; an undeploy takes it last, so nothing runs once it returns.
    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly ArrayBufferWriter<byte> _stdout = new(4096);
    private readonly TimeSpan _timeout;
    private readonly long _maxMemory;
    private readonly byte[] _environment;
    private readonly int _environmentCount;
    private Engine? _engine;
    private Module? _module;
    private Linker? _linker;
    private bool _deployed;
    private WasmCall? _current;
    private int _stopped;
    private bool _disposed;

    /// <summary>Creates the provider; nothing is compiled until <see cref="ValidateAsync"/>.</summary>
    /// <param name="context">The deploy.</param>
    public WasmFunctionProvider(WorkloadContext context)
    {
        _context = context;
        _logger = context.Loggers.CreateLogger("Nex.Agent.Wasm");
        var request = context.Request;
        _timeout = TimeSpan.FromMilliseconds(request.FunctionTimeoutMs > 0 ? request.FunctionTimeoutMs : DefaultTimeoutMs);
        _maxMemory = request.MaxMemoryBytes > 0 ? request.MaxMemoryBytes : DefaultMaxMemoryBytes;
        (_environment, _environmentCount) = Block(request.Environment.Select(kv => $"{kv.Key}={kv.Value}"));
    }

    /// <inheritdoc />
    public bool SupportsTriggers => true;

    /// <inheritdoc />
    public Task<int> Completion => _completion.Task;

    /// <summary>The per-execution time limit.</summary>
    public TimeSpan Timeout => _timeout;

    /// <inheritdoc />
    /// <remarks>Compiles the module (the message of a failure is Wasmtime's) and checks its imports and <c>_start</c>.</remarks>
    public async Task ValidateAsync(CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(_context.ArtifactPath, cancellationToken).ConfigureAwait(false);
        Compile(bytes);
    }

    /// <inheritdoc />
    public Task DeployAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_module is null || _engine is null)
        {
            throw new InvalidOperationException("the module was not validated");
        }

        if (_deployed || Volatile.Read(ref _stopped) != 0)
        {
            throw new InvalidOperationException("the workload was already deployed");
        }

        var linker = new Linker(_engine);
        try
        {
            WasiPreview1.Define(linker, _module, Current, _context.Time);
            var request = _context.Request;
            NexHostImports.Define(linker, Current, new HostServicesClient(_context.Connection, _context.AgentId, request.Namespace, request.WorkloadName));
        }
        catch
        {
            linker.Dispose();
            throw;
        }

        _linker = linker;
        TriggerThread.EnsureASecondWorker();
        _deployed = true;
        LogDeployed(_logger, _context.Request.WorkloadName, _timeout.TotalMilliseconds, _maxMemory);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task UndeployAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            // Cuts a running execution (its token is linked); a waiting one finds the function stopped.
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        // The running execution, if any, has ended once the gate is free; none starts after it.
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        _running.Release();
        _completion.TrySetResult(0);
    }

    /// <inheritdoc />
    public async Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subject);

        // On the caller's thread: the agent's trigger loop, which goes on to the next message when this returns.
        // A hand-off to a thread of the engine's own cost a wake-up per call (in alternated bench runs, ~110 µs
        // of p50 and 30% of the throughput with 8 callers on 2 cores); the engine runs one call at a time either way.
        // Free, the gate is taken without a wait; while a call runs, the next waits here for its turn.
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        Outcome outcome;
        try
        {
            if (Volatile.Read(ref _stopped) != 0 || !_deployed)
            {
                throw new ObjectDisposedException(nameof(WasmFunctionProvider), "the function was undeployed");
            }

            outcome = RunGuarded(new Work(subject, payload, cancellationToken));
        }
        finally
        {
            _running.Release();
        }

        foreach (var chunk in outcome.Stderr)
        {
            await _context.Output.WriteAsync(WorkloadStream.StandardError, chunk, cancellationToken).ConfigureAwait(false);
        }

        return outcome.Result;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await UndeployAsync(CancellationToken.None).ConfigureAwait(false);
        _disposed = true;
        _linker?.Dispose();
        _module?.Dispose();
        _engine?.Dispose();
        _stopping.Dispose();
        _running.Dispose();
    }

    /// <summary>Compiles the module (once) and checks that it is a WASI command this provider can link.</summary>
    /// <param name="bytes">The module (binary; the WebAssembly text format is accepted too, for tests).</param>
    internal void Compile(ReadOnlySpan<byte> bytes)
    {
        if (_module is not null)
        {
            return;
        }

        NativeLibraries.Register(typeof(Wasmtime.Engine).Assembly, "wasmtime", "libwasmtime.so");
        // Executions run one at a time: a small pool of pre-reserved instance slots makes the per-call
        // instantiation cheap (no fresh 4 GiB reservation and page-table work per call).
        using var pooling = new PoolingAllocationConfig()
            .WithMaxCoreInstances(2)
            .WithMaxMemories(2)
            .WithMaxTables(2)
            .WithMaxUnusedWarmSlots(2)
            .WithLinearMemoryKeepResidentBytes(256 * 1024)
            .WithTableKeepResidentBytes(16 * 1024)
            .WithMaxMemorySize((nuint)_maxMemory);
        var config = new Config().WithEpochInterruption(true).WithMaximumStackSize(MaxWasmStackBytes).WithPoolingAllocationStrategy(pooling);
        var engine = new Engine(config);
        Module? module = null;
        try
        {
            module = bytes.StartsWith("\0asm"u8)
                ? Module.FromBytes(engine, _context.Request.WorkloadName, bytes)
                : Module.FromText(engine, _context.Request.WorkloadName, Encoding.UTF8.GetString(bytes));
            foreach (var import in module.Imports)
            {
                var known = import.ModuleName is WasiPreview1.ModuleName
                    || (import.ModuleName is NexHostImports.ModuleName && import.Name is "host_call" or "host_result");
                if (!known || import is not FunctionImport)
                {
                    throw new InvalidOperationException($"unsupported import {import.ModuleName}.{import.Name} (only {WasiPreview1.ModuleName} functions and nex.host_call/nex.host_result are provided)");
                }
            }

            if (!module.Exports.Any(e => e is FunctionExport && e.Name == "_start"))
            {
                throw new InvalidOperationException("the module is not a WASI command: it exports no _start function");
            }

            _engine = engine;
            _module = module;
        }
        catch (WasmtimeException ex)
        {
            module?.Dispose();
            engine.Dispose();

            // A valid module whose initial memory is above the limit does not fit the pooling allocator's slots.
            if (ex.Message.Contains("minimum byte size", StringComparison.Ordinal) && ex.Message.Contains("exceeds the limit", StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    string.Create(CultureInfo.InvariantCulture, $"the module's initial memory is larger than its memory limit ({_maxMemory} bytes)"), ex);
            }

            // Wasmtime's parser reports over several lines (a cause chain and a source excerpt); one line is enough.
            throw new InvalidOperationException(
                bytes.StartsWith("\0asm"u8)
                    ? $"invalid WebAssembly module: {OneLine(ex.Message)}"
                    : $"the artifact is not a WebAssembly module (no \\0asm header) nor WAT text ({OneLine(ex.Message)}); run JavaScript with --type v8 and executables with --type native",
                ex);
        }
        catch
        {
            module?.Dispose();
            engine.Dispose();
            throw;
        }
    }

    // The first two meaningful lines of a multi-line parser message: what failed and why.
    internal static string OneLine(string message) =>
        string.Join(": ", message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line is not "Caused by:" && !line.StartsWith("-->", StringComparison.Ordinal) && !line.StartsWith('|') && !line.Contains(" | ", StringComparison.Ordinal))
            .Select(line => CauseIndex().Replace(line, string.Empty).TrimEnd(':'))
            .Take(2));

    /// <summary>Whether an execution is inside the guest now.</summary>
    internal bool IsExecuting => Volatile.Read(ref _current) is not null;

    // Wasmtime reports a trap as "error while executing at wasm backtrace:", the frames, then "Caused by:" and the
    // trap itself ("wasm trap: call stack exhausted"): the last cause is the line a caller can act on.
    internal static string TrapCause(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var causedBy = Array.LastIndexOf(lines, "Caused by:");
        var cause = causedBy >= 0 && causedBy + 1 < lines.Length ? lines[^1] : lines.FirstOrDefault() ?? message;
        return CauseIndex().Replace(cause, string.Empty);
    }

    // The "0: " Wasmtime puts before each cause of a chain.
    [System.Text.RegularExpressions.GeneratedRegex(@"^\d+: ")]
    private static partial System.Text.RegularExpressions.Regex CauseIndex();

    private WasmCall Current() => _current ?? throw new InvalidOperationException("no execution in progress");

    // Whatever goes wrong in an execution is its caller's failure, never the agent's.
    private Outcome RunGuarded(Work work)
    {
        try
        {
            return Run(work);
        }
        catch (Exception ex)
        {
            var failure = $"function execution failed: {ex.Message}";
            return new Outcome(TriggerResult.Failed(failure, FunctionErrors.Exception), [failure + "\n"]);
        }
    }

    // One execution: a fresh Store and instance, _start, the outcome.
    private Outcome Run(Work work)
    {
        // The time limit runs on the agent's clock: it is what a test's fake clock advances.
        var time = _context.Time;
        var started = time.GetTimestamp();
        using var limit = new TimeLimit(_timeout, time, work.CancellationToken, _stopping.Token);
        var (arguments, argumentCount) = Block([ProgramName, work.Subject]);
        var call = new WasmCall(arguments, argumentCount, _environment, _environmentCount, work.Payload, _stdout, (int)Math.Min(_maxMemory, int.MaxValue), limit.Token) { Trace = work.Trace };
        using var store = new Store(_engine!);
        store.SetLimits(memorySize: _maxMemory);

        // Every store needs its deadline once the engine has epoch interruption: one tick, which the
        // time limit (or a stop) supplies. The registration is disposed before the next execution, so a
        // late tick can never cut a later one.
        store.SetEpochDeadline(1);
        var engine = _engine!;
        _current = call;
        string? failure = null;
        string? backtrace = null;
        var timedOut = false;
        try
        {
            using (limit.Token.Register(static e => ((Engine)e!).IncrementEpoch(), engine))
            {
                try
                {
                    var instance = _linker!.Instantiate(store, _module!);
                    call.Memory = instance.GetMemory("memory");
                    var start = instance.GetFunction("_start") ?? throw new InvalidOperationException("the module exports no _start function");
                    start.Invoke();
                }
                catch (Exception ex) when (ex is WasmtimeException or TrapException or WasmExitException or OperationCanceledException)
                {
                    if (call.ExitCode is null)
                    {
                        timedOut = limit.IsCancellationRequested && !work.CancellationToken.IsCancellationRequested && !_stopping.IsCancellationRequested;
                        failure = limit.IsCancellationRequested
                            ? work.CancellationToken.IsCancellationRequested || _stopping.IsCancellationRequested
                                ? "function execution was cancelled"
                                : string.Create(CultureInfo.InvariantCulture, $"function timed out after {_timeout.TotalMilliseconds:0} ms")
                            : $"function trapped: {TrapCause(ex.Message)}";
                        backtrace = limit.IsCancellationRequested ? null : ex.Message;
                    }
                }
            }
        }
        finally
        {
            _current = null;
        }

        var elapsed = time.GetElapsedTime(started);
        var stderr = call.Stderr;
        if (failure is null && call.ExitCode is { } code and not 0)
        {
            failure = string.Create(CultureInfo.InvariantCulture, $"function exited with status {code}");
        }

        if (failure is not null)
        {
            // (A module whose initial memory is above the limit is refused at deploy: Wasmtime's pooling allocator checks it.)
            var outOfMemory = !limit.IsCancellationRequested && RanOutOfMemory(call);
            if (outOfMemory)
            {
                failure = string.Create(CultureInfo.InvariantCulture, $"function exceeded its memory limit ({_maxMemory} bytes): {failure}");
            }

            LogExecutionFailed(_logger, _context.Request.WorkloadName, work.Subject, failure);
            stderr.Add(failure + "\n");
            if (backtrace is not null)
            {
                // The whole trap, backtrace included, for the workload's log; the caller and the event get the cause.
                stderr.Add(backtrace.TrimEnd() + "\n");
            }

            var errorCode = timedOut ? FunctionErrors.Timeout : outOfMemory ? FunctionErrors.OutOfMemory : FunctionErrors.Exception;
            return new Outcome(TriggerResult.Failed(failure, errorCode, (long)elapsed.TotalNanoseconds), stderr);
        }

        if (call.Stdout.IsEmpty)
        {
            return new Outcome(null, stderr);
        }

        return new Outcome(new TriggerResult(call.Stdout.ToArray(), (long)elapsed.TotalNanoseconds), stderr);
    }

    // Wasmtime answers a memory.grow past the limit with -1 and nothing else, so a failed call is put down to
    // memory when its memory stands at the limit (an allocator that grows as it goes, then aborts), or when the
    // guest said so on stderr the way the common toolchains do before they abort (Rust: "memory allocation of
    // N bytes failed"; Go, TinyGo and C programs: "out of memory").
    private bool RanOutOfMemory(WasmCall call)
    {
        if (call.Memory is { } memory && memory.GetLength() + Memory.PageSize > _maxMemory)
        {
            return true;
        }

        foreach (var chunk in call.Stderr)
        {
            if (chunk.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || chunk.Contains("memory allocation of", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static (byte[] Block, int Count) Block(IEnumerable<string> entries)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var count = 0;
        foreach (var entry in entries)
        {
            var span = buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(entry.Length) + 1);
            var written = Encoding.UTF8.GetBytes(entry, span);
            span[written] = 0;
            buffer.Advance(written + 1);
            count++;
        }

        return (buffer.WrittenSpan.ToArray(), count);
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "WASM function {Name} deployed (time limit {TimeoutMs} ms, memory limit {MaxMemory} bytes)")]
    private static partial void LogDeployed(ILogger logger, string name, double timeoutMs, long maxMemory);

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "WASM function {Name} on {Subject}: {Reason}")]
    private static partial void LogExecutionFailed(ILogger logger, string name, string subject, string reason);

    private sealed record Outcome(TriggerResult? Result, IReadOnlyList<string> Stderr);

    private sealed class Work(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        public string Subject { get; } = subject;

        public ReadOnlyMemory<byte> Payload { get; } = payload;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // The trigger's trace, for the host calls the execution makes.
        public TraceContext? Trace { get; } = TraceContext.Current;
    }
}
