using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Agent.Providers;

/// <summary>
/// A native workload (spec §5.8): the artifact run as a child process in its own process group, with
/// only the request's environment (keys upper-cased), its stdout/stderr streamed chunk by chunk.
/// It dies with the agent (parent-death signal); undeploy ends its whole tree.
/// </summary>
internal sealed partial class NativeProcessProvider : IWorkloadProvider
{
    private const int ChunkSize = 16 * 1024;

    // After the process exits, its output pipes normally reach EOF at once. Something that escaped the
    // process group may hold them open; the exit is not held back longer than this for it.
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan GroupGoneLimit = TimeSpan.FromSeconds(2);

    private readonly WorkloadContext _context;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly CancellationTokenSource _pumpsAbandoned = new();
    private Process? _process;
    private int _pid;
    private Task _stdout = Task.CompletedTask;
    private Task _stderr = Task.CompletedTask;
    private Task _watcher = Task.CompletedTask;
    private bool _stopped;
    private bool _disposed;

    /// <summary>Creates the provider; nothing runs until <see cref="DeployAsync"/>.</summary>
    /// <param name="context">The deploy.</param>
    public NativeProcessProvider(WorkloadContext context)
    {
        _context = context;
        _logger = context.Loggers.CreateLogger("Nex.Agent.Native");
    }

    /// <inheritdoc />
    public bool SupportsTriggers => false;

    /// <inheritdoc />
    public Task<int> Completion => _completion.Task;

    /// <summary>The workload's process id (also its process group id), or 0 before it started.</summary>
    public int ProcessId => _pid;

    /// <summary>
    /// The start description: <c>argv = [artifact] + argv</c>; environment = only the request's map with
    /// upper-cased keys (no PATH unless the request gives one); stdin at EOF; stdout/stderr captured.
    /// </summary>
    /// <param name="artifactPath">The executable.</param>
    /// <param name="request">The deploy request.</param>
    /// <returns>The start info.</returns>
    public static ProcessStartInfo BuildStartInfo(string artifactPath, AgentDeployRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var info = new ProcessStartInfo(artifactPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in request.Argv ?? [])
        {
            info.ArgumentList.Add(arg);
        }

        if (request.WorkingDirectory is { Length: > 0 } workingDirectory)
        {
            info.WorkingDirectory = workingDirectory;
        }

        info.Environment.Clear();
        foreach (var (key, value) in request.Environment)
        {
            info.Environment[key.ToUpperInvariant()] = value;
        }

        return info;
    }

    /// <inheritdoc />
    /// <remarks>0.2 checks for a static ELF only inside a sandbox; the C# agent runs whatever the node sent.</remarks>
    public Task ValidateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async Task DeployAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_process is not null || _stopped)
            {
                throw new InvalidOperationException("the workload was already deployed");
            }

            var info = BuildStartInfo(_context.ArtifactPath, _context.Request);

            // Not cancellable: a started process must never go unrecorded.
            var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
            _process = process;
            _pid = process.Id;
            LogStarted(_logger, _context.Request.WorkloadName, _pid);
            process.StandardInput.Close();
            _stdout = PumpAsync(process.StandardOutput.BaseStream, WorkloadStream.StandardOutput);
            _stderr = PumpAsync(process.StandardError.BaseStream, WorkloadStream.StandardError);
            _watcher = WatchAsync(process);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <inheritdoc />
    public async Task UndeployAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_process is not { } process)
            {
                _stopped = true;
                _completion.TrySetResult(0);
                return;
            }

            if (!_stopped)
            {
                _stopped = true;
                LogStopping(_logger, _context.Request.WorkloadName, _pid, _context.StopGrace.TotalMilliseconds);
                await ProcessTree.TerminateAsync(process, _context.StopGrace, CancellationToken.None).ConfigureAwait(false);
            }

            await WaitForGroupGoneAsync(cancellationToken).ConfigureAwait(false);
            await _completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <inheritdoc />
    public Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Native execution provider does not support execution via trigger subjects");

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        await UndeployAsync(CancellationToken.None).ConfigureAwait(false);
        _disposed = true;
        await _pumpsAbandoned.CancelAsync().ConfigureAwait(false);
        await _watcher.ConfigureAwait(false);
        _process?.Dispose();
        _pumpsAbandoned.Dispose();
    }

    private async Task WatchAsync(Process process)
    {
        try
        {
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            var code = process.ExitCode;
            LogExited(_logger, _context.Request.WorkloadName, _pid, code);

            // The workload is its process tree: what it left behind in its group goes with it (and
            // releases the output pipes).
            Posix.SignalGroup(_pid, Posix.SIGKILL);
            await DrainOutputAsync().ConfigureAwait(false);
            _completion.TrySetResult(code);
        }
        catch (Exception ex)
        {
            // Whatever went wrong, whoever waits for the workload must hear of it.
            _completion.TrySetException(ex);
        }
    }

    private async Task DrainOutputAsync()
    {
        try
        {
            await Task.WhenAll(_stdout, _stderr).WaitAsync(OutputDrainLimit, _context.Time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogOutputHeldOpen(_logger, _context.Request.WorkloadName);
            await _pumpsAbandoned.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task WaitForGroupGoneAsync(CancellationToken cancellationToken)
    {
        var deadline = _context.Time.GetUtcNow() + GroupGoneLimit;
        while (ProcessGroupProbe.LiveMembers(_pid) is { Count: > 0 } alive)
        {
            if (_context.Time.GetUtcNow() > deadline)
            {
                LogGroupLingers(_logger, _context.Request.WorkloadName, string.Join(',', alive));
                return;
            }

            foreach (var pid in alive)
            {
                Posix.Signal(pid, Posix.SIGKILL);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), _context.Time, cancellationToken).ConfigureAwait(false);
        }
    }

    // One read = one log entry (no line buffering, spec §5.8). A stateful decoder keeps multi-byte
    // characters that straddle two reads intact.
    private async Task PumpAsync(Stream stream, WorkloadStream kind)
    {
        var cancellationToken = _pumpsAbandoned.Token;
        var bytes = new byte[ChunkSize];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(ChunkSize)];
        var decoder = Encoding.UTF8.GetDecoder();
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(bytes, cancellationToken).ConfigureAwait(false);
                var count = decoder.GetChars(bytes, 0, read, chars, 0, flush: read == 0);
                if (count > 0)
                {
                    await _context.Output.WriteAsync(kind, new string(chars, 0, count), cancellationToken).ConfigureAwait(false);
                }

                if (read == 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The pipe is gone or abandoned; the process is gone with it.
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Started workload {Name} as pid {Pid}")]
    private static partial void LogStarted(ILogger logger, string name, int pid);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Workload {Name} (pid {Pid}) exited with status {Code}")]
    private static partial void LogExited(ILogger logger, string name, int pid, int code);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Stopping workload {Name} (pid {Pid}; SIGKILL after {GraceMs} ms)")]
    private static partial void LogStopping(ILogger logger, string name, int pid, double graceMs);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Workload {Name} exited but something still holds its output open; not waiting for it")]
    private static partial void LogOutputHeldOpen(ILogger logger, string name);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Workload {Name}: processes {Pids} survive SIGKILL")]
    private static partial void LogGroupLingers(ILogger logger, string name, string pids);
}
