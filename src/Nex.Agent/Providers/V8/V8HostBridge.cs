using System.Text;
using System.Threading.Channels;
using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using Microsoft.ClearScript.V8.FastProxy;
using Nex.Agent.HostServices;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// The bridge between JavaScript and the host: the three fast host functions the prelude closes over
/// (<c>done</c>, <c>call</c>, <c>log</c>), the byte conversions between Uint8Array and .NET, and the
/// host-service round trip — a <c>call</c> leaves the owner thread at once, awaits
/// <see cref="HostServicesClient"/> on the thread pool and only posts the settlement back (never blocking
/// on the engine, so the ClearScript continuation deadlock of dependencies §4 cannot happen). It acts on
/// the invocation that is running right now, which the runner tells it.
/// </summary>
internal sealed class V8HostBridge
{
    private readonly HostServicesClient? _hostServices;
    private readonly ChannelWriter<(WorkloadStream Stream, string Text)> _output;
    private readonly Func<V8Invocation?> _current;
    private readonly Action<V8Invocation, int, V8Settlement> _settle;

    /// <summary>Creates the bridge.</summary>
    /// <param name="hostServices">Host services of this workload (null: calls reject).</param>
    /// <param name="output">Where console output and errors go.</param>
    /// <param name="current">The invocation on the owner thread right now (called on the owner thread).</param>
    /// <param name="settle">Hands a host-service settlement back (called on the thread pool).</param>
    public V8HostBridge(
        HostServicesClient? hostServices,
        ChannelWriter<(WorkloadStream Stream, string Text)> output,
        Func<V8Invocation?> current,
        Action<V8Invocation, int, V8Settlement> settle)
    {
        _hostServices = hostServices;
        _output = output;
        _current = current;
        _settle = settle;
        Done = new V8FastHostFunction("done", OnDone);
        Call = new V8FastHostFunction("call", OnCall);
        Log = new V8FastHostFunction("log", OnLog);
    }

    /// <summary>JS <c>done(ok, value)</c>: the function's result (or error) for the running invocation.</summary>
    public V8FastHostFunction Done { get; }

    /// <summary>JS <c>call(id, service, method, h1n, h1v, h2n, h2v, body, kind)</c>: a host-service request.</summary>
    public V8FastHostFunction Call { get; }

    /// <summary>JS <c>log(stream, text)</c>: console output.</summary>
    public V8FastHostFunction Log { get; }

    /// <summary>A new Uint8Array in <paramref name="context"/> holding <paramref name="bytes"/>.</summary>
    /// <param name="context">The context.</param>
    /// <param name="bytes">The bytes.</param>
    /// <returns>The script object (release it with <see cref="Release"/>).</returns>
    public static object MakeBytes(V8PreparedContext context, byte[] bytes)
    {
        var array = context.Api.InvokeMethod("mk", bytes.Length);
        if (bytes.Length > 0)
        {
            ((ITypedArray<byte>)array).Write(bytes, 0, (ulong)bytes.Length, 0);
        }

        return array;
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
            Release(value);
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

    // JS: call(id, service, method, h1n, h1v, h2n, h2v, body, kind).
    private void OnCall(bool asConstructor, in V8FastArgs args, in V8FastResult result)
    {
        if (_current() is not { HasOutcome: false } invocation)
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

    private async Task CallAsync(V8Invocation invocation, int id, string service, string method, Dictionary<string, string> headers, byte[] body, int kind)
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

        _settle(invocation, id, settlement);
    }

    // JS: log(stream, text).
    private void OnLog(bool asConstructor, in V8FastArgs args, in V8FastResult result) =>
        WriteOutput(args.GetInt32(0) == 1 ? WorkloadStream.StandardError : WorkloadStream.StandardOutput, args.GetString(1));
}
