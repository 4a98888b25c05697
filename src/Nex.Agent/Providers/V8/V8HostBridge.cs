using System.Text;
using System.Threading.Channels;
using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using Microsoft.ClearScript.V8.FastProxy;
using Nex.Agent.HostServices;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// The bridge between JavaScript and the host: the five fast host functions the prelude closes over
/// (<c>done</c>, <c>call</c>, <c>take</c>, <c>log</c>, <c>fill</c>), the byte conversions between Uint8Array and .NET, and
/// the synchronous host-service round trip of 0.2 (spec §5.10): <c>call</c> runs
/// <see cref="HostServicesClient.InvokeAsync"/> on the thread pool and blocks the owner thread, inside the
/// engine, until it ends, the call's deadline passes or the lane stops. That is safe from the ClearScript
/// continuation deadlock (dependencies §4) because nothing the wait depends on ever needs the engine: the
/// request and all its continuations run on pool threads (no synchronization context, ConfigureAwait(false))
/// and only hand back bytes. It acts on the invocation that is running right now, which the runner tells it.
/// </summary>
internal sealed class V8HostBridge : IDisposable
{
    private readonly HostServicesClient? _hostServices;
    private readonly ChannelWriter<(WorkloadStream Stream, string Text)> _output;
    private readonly Func<V8Invocation?> _current;
    private readonly CancellationTokenSource _stopping = new();

    // Owner-thread state: the last call's result, until the prelude takes it.
    private V8HostResult? _staged;

    /// <summary>Creates the bridge.</summary>
    /// <param name="hostServices">Host services of this workload (null: calls reject).</param>
    /// <param name="output">Where console output and errors go.</param>
    /// <param name="current">The invocation on the owner thread right now (called on the owner thread).</param>
    public V8HostBridge(
        HostServicesClient? hostServices,
        ChannelWriter<(WorkloadStream Stream, string Text)> output,
        Func<V8Invocation?> current)
    {
        _hostServices = hostServices;
        _output = output;
        _current = current;
        Done = new V8FastHostFunction("done", OnDone);
        Call = new V8FastHostFunction("call", OnCall);
        Take = new V8FastHostFunction("take", OnTake);
        Log = new V8FastHostFunction("log", OnLog);
        Fill = new V8FastHostFunction("fill", OnFill);
    }

    /// <summary>JS <c>done(ok, value)</c>: the function's result (or error) for the running invocation.</summary>
    public V8FastHostFunction Done { get; }

    /// <summary>
    /// JS <c>call(service, method, h1n, h1v, h2n, h2v, body, kind)</c>: a host-service request; blocks until it
    /// ends and returns the reply's byte count, or -1 (the error message staged for <see cref="Take"/>).
    /// </summary>
    public V8FastHostFunction Call { get; }

    /// <summary>JS <c>take(u8 | null)</c>: copies the staged reply bytes into the array, returns the staged text.</summary>
    public V8FastHostFunction Take { get; }

    /// <summary>JS <c>log(stream, text)</c>: console output.</summary>
    public V8FastHostFunction Log { get; }

    /// <summary>JS <c>fill(u8)</c>: copies the running invocation's payload into the array (sized for it).</summary>
    public V8FastHostFunction Fill { get; }

    /// <summary>
    /// Releases a Uint8Array the host has read or written, and the ArrayBuffer handle ClearScript made for it.
    /// Reading or writing a typed array makes ClearScript fetch its buffer's info, which holds a handle to the
    /// ArrayBuffer that nothing disposes (only the .NET finalizer does): that one handle kept each used context
    /// alive in V8's heap, measured as 55 MiB left after a full V8 collection of 300 used contexts, 0.25 MiB
    /// with this release.
    /// </summary>
    /// <param name="value">A typed array returned by the engine (anything else is released as <see cref="Release"/> does).</param>
    public static void ReleaseBytes(object? value)
    {
        if (value is IArrayBufferView view)
        {
            Release(view.ArrayBuffer);
        }

        Release(value);
    }

    /// <summary>
    /// Releases the V8 handle behind a script object now. Left to the .NET finalizer, every handle keeps its
    /// whole (disposed) context alive: the heap then stays full of dead contexts and each collection marks
    /// all of them (measured: 200–330 ms collections every few calls, and 80 calls/s instead of hundreds).
    /// </summary>
    /// <param name="value">A value returned by the engine (anything else is ignored).</param>
    public static void Release(object? value)
    {
        if (value is IDisposable disposable)
        {
            disposable.Dispose();
        }
    }

    /// <summary>Writes one line of workload output (a newline is added when missing).</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="text">The text.</param>
    public void WriteOutput(WorkloadStream stream, string text) => _output.TryWrite((stream, text.EndsWith('\n') ? text : text + "\n"));

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
            ReleaseBytes(value);
        }
    }

    // JS: done(ok, value) — value is the Uint8Array or the JSON text (ok) or the error text (not ok).
    private void OnDone(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        if (_current() is not { HasOutcome: false } invocation)
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

    /// <summary>
    /// Ends every host-service wait now and refuses new ones: the lane is stopping, and its owner thread
    /// (blocked in a call) must come back to shut down.
    /// </summary>
    public void Stop()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Stopped and shut down already.
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    // JS: call(service, method, h1n, h1v, h2n, h2v, body, kind).
    private void OnCall(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        if (_current() is not { HasOutcome: false } invocation)
        {
            throw new InvalidOperationException("host services are only available while the function runs");
        }

        var service = args.GetString(0);
        var method = args.GetString(1);
        var headers = new Dictionary<string, string>(2);
        for (var i = 2; i <= 4; i += 2)
        {
            if (!args.IsNull(i) && !args.IsUndefined(i))
            {
                headers[args.GetString(i)] = args.GetString(i + 1);
            }
        }

        byte[] body = args.IsNull(6) || args.IsUndefined(6) ? [] : ReadBytes(args.Get<object>(6));
        _staged = Invoke(invocation, service, method, headers, body, args.GetInt32(7));
        result.Set(_staged.Error is null ? _staged.Bytes?.Length ?? 0 : -1);
    }

    /// <summary>One request, waited for on the owner thread (see the class remarks for why that cannot deadlock).</summary>
    private V8HostResult Invoke(V8Invocation invocation, string service, string method, Dictionary<string, string> headers, byte[] body, int kind)
    {
        if (_hostServices is not { } hostServices)
        {
            return V8HostResult.Failed("host services are not available (500)");
        }

        // The call's deadline (V8Invocation.Abort) or the lane's stop ends the wait: V8's interrupt cannot
        // reach code blocked in the host.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(invocation.Abort.Token, _stopping.Token);
        var token = linked.Token;
        try
        {
            // Task.Run: not even the request's synchronous start runs on the owner thread, so no await inside
            // the client can capture this thread's context and wait for it.
            var request = Task.Run(() => hostServices.InvokeAsync(service, method, headers, body, invocation.Trace, token), token);
            request.Wait(token);
            return V8HostResult.FromReply(kind, request.Result);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // A timeout also interrupts the engine: the script ends as soon as this returns into it.
            return V8HostResult.Failed(_stopping.IsCancellationRequested ? "function stopped" : $"host service {service}.{method} cancelled: the function's time is up");
        }
        catch (AggregateException ex) when (ex.InnerExceptions is [var inner])
        {
            return V8HostResult.Failed(inner.Message);
        }
        catch (Exception ex)
        {
            return V8HostResult.Failed(ex.Message);
        }
    }

    // JS: take(u8 | null) — the staged result's text; its bytes copied into the array.
    private void OnTake(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        var staged = _staged;
        _staged = null;
        if (staged is null)
        {
            result.SetNull();
            return;
        }

        if (staged.Bytes is { Length: > 0 } bytes && !args.IsNull(0) && !args.IsUndefined(0))
        {
            Write(args.Get<object>(0), bytes);
        }

        if ((staged.Error ?? staged.Text) is { } text)
        {
            result.Set(text);
        }
        else
        {
            result.SetNull();
        }
    }

    // JS: fill(u8) — the payload, written into the array run made for it.
    private void OnFill(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        if (_current() is { } invocation)
        {
            Write(args.Get<object>(0), invocation.Payload);
        }
    }

    // Copies bytes into a Uint8Array of the engine, then releases it.
    private static void Write(object target, byte[] bytes)
    {
        try
        {
            ((ITypedArray<byte>)target).Write(bytes, 0, (ulong)bytes.Length, 0);
        }
        finally
        {
            ReleaseBytes(target);
        }
    }

    // JS: log(stream, text).
    private void OnLog(bool asConstructor, in V8FastArgs args, in V8FastResult result) =>
        WriteOutput(args.GetInt32(0) == 1 ? WorkloadStream.StandardError : WorkloadStream.StandardOutput, args.GetString(1));
}
