using System.Buffers;
using System.Text;
using Wasmtime;

namespace Nex.Agent.Providers.Wasm;

/// <summary>
/// The state of one trigger execution, touched only by the provider's execution thread: the guest's
/// argv/environment blocks, stdin (the payload, then EOF), the captured stdout (every write, concatenated),
/// stderr chunks for the workload's log, the guest's exit code and the last host-call result.
/// </summary>
internal sealed class WasmCall
{
    /// <summary>Most stderr kept per call; the rest is dropped with a note.</summary>
    public const int StderrLimit = 64 * 1024;

    private readonly ArrayBufferWriter<byte> _stdout;
    private int _stdinPosition;
    private int _stderrBytes;

    /// <summary>Creates the state of one call.</summary>
    /// <param name="arguments">argv as a NUL-terminated block (<c>nexfunction\0&lt;subject&gt;\0</c>).</param>
    /// <param name="argumentCount">Number of entries in <paramref name="arguments"/>.</param>
    /// <param name="environment">The environment as a NUL-terminated <c>KEY=value\0</c> block.</param>
    /// <param name="environmentCount">Number of entries in <paramref name="environment"/>.</param>
    /// <param name="stdin">The payload.</param>
    /// <param name="stdout">Where stdout goes (cleared first).</param>
    /// <param name="stdoutLimit">Most stdout bytes accepted.</param>
    /// <param name="cancellationToken">Fires at the time limit (or when the agent stops).</param>
    public WasmCall(byte[] arguments, int argumentCount, byte[] environment, int environmentCount, ReadOnlyMemory<byte> stdin, ArrayBufferWriter<byte> stdout, int stdoutLimit, CancellationToken cancellationToken)
    {
        Arguments = arguments;
        ArgumentCount = argumentCount;
        Environment = environment;
        EnvironmentCount = environmentCount;
        Stdin = stdin;
        _stdout = stdout;
        _stdout.ResetWrittenCount();
        StdoutLimit = stdoutLimit;
        CancellationToken = cancellationToken;
    }

    public byte[] Arguments { get; }

    public int ArgumentCount { get; }

    public byte[] Environment { get; }

    public int EnvironmentCount { get; }

    public ReadOnlyMemory<byte> Stdin { get; }

    public int StdoutLimit { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>The trigger's trace context, carried into the call's host-service requests (null: none).</summary>
    public Nex.Agent.HostServices.TraceContext? Trace { get; init; }

    /// <summary>The instance's exported <c>memory</c>, once instantiated.</summary>
    public Memory? Memory { get; set; }

    /// <summary>Set by <c>proc_exit</c>.</summary>
    public int? ExitCode { get; set; }

    /// <summary>The last <c>nex.host_call</c> result body or error message.</summary>
    public ReadOnlyMemory<byte> HostResult { get; set; }

    /// <summary>What the guest wrote to stderr, one entry per write.</summary>
    public List<string> Stderr { get; } = [];

    /// <summary>stdout so far.</summary>
    public ReadOnlyMemory<byte> Stdout => _stdout.WrittenMemory;

    /// <summary>Copies up to <paramref name="destination"/>'s length of the remaining stdin.</summary>
    /// <param name="destination">Where to copy.</param>
    /// <returns>Bytes copied; 0 at EOF.</returns>
    public int ReadStdin(Span<byte> destination)
    {
        var remaining = Stdin.Span[_stdinPosition..];
        var count = Math.Min(remaining.Length, destination.Length);
        remaining[..count].CopyTo(destination);
        _stdinPosition += count;
        return count;
    }

    /// <summary>Appends to stdout.</summary>
    /// <param name="data">The bytes.</param>
    /// <returns>False when the stdout limit would be exceeded.</returns>
    public bool WriteStdout(ReadOnlySpan<byte> data)
    {
        if (_stdout.WrittenCount + (long)data.Length > StdoutLimit)
        {
            return false;
        }

        _stdout.Write(data);
        return true;
    }

    /// <summary>Records one stderr write (up to <see cref="StderrLimit"/> per call).</summary>
    /// <param name="data">The bytes.</param>
    public void WriteStderr(ReadOnlySpan<byte> data)
    {
        if (_stderrBytes >= StderrLimit)
        {
            return;
        }

        var kept = data[..Math.Min(data.Length, StderrLimit - _stderrBytes)];
        _stderrBytes += data.Length;
        Stderr.Add(Encoding.UTF8.GetString(kept));
        if (_stderrBytes >= StderrLimit)
        {
            Stderr.Add($"[stderr beyond {StderrLimit} bytes dropped]\n");
        }
    }
}
