using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// A machine embodied by one host process: the agent itself, or a wrapper (<c>unshare</c>, <c>bwrap</c>)
/// whose first child is the agent. Its output lines become node log lines.
/// </summary>
internal sealed partial class AgentProcessMachine : IMachine
{
    private readonly Process _process;
    private readonly bool _wrapped;
    private readonly TimeProvider _time;
    private readonly Func<ValueTask>? _cleanup;
    private readonly Func<ProcessTreeUsage, MachineUsage>? _usage;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _lastError;
    private int _cleaned;

    /// <summary>Wraps a started process (its output not yet read).</summary>
    /// <param name="id">The agent id.</param>
    /// <param name="process">The process, started with redirected output.</param>
    /// <param name="wrapped">True when the agent is the process's first child, not the process itself.</param>
    /// <param name="logger">Where the agent's lines go.</param>
    /// <param name="cleanup">Runs once after the process has gone (relays, cgroups, files).</param>
    /// <param name="usage">Turns the process tree's usage into the machine's (a cgroup's figures, a limit); by default the tree's, with no limit.</param>
    /// <param name="time">The clock of the bounded wait for the process's last words; the real one when null.</param>
    public AgentProcessMachine(string id, Process process, bool wrapped, ILogger logger, Func<ValueTask>? cleanup = null, Func<ProcessTreeUsage, MachineUsage>? usage = null, TimeProvider? time = null)
    {
        Id = id;
        _time = time ?? TimeProvider.System;
        _process = process;
        _wrapped = wrapped;
        _cleanup = cleanup;
        _usage = usage;
        ProcessId = process.Id;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogAgentOutput(logger, id, line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _errorClosed.TrySetResult();
            }
            else if (e.Data is { Length: > 0 } line)
            {
                _lastError = line;
                var (level, text) = AgentLine(line);
                LogAgentError(logger, level, id, text);
            }
        };
        process.Exited += (_, _) => _ = OnExitedAsync();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (process.HasExited)
        {
            _ = OnExitedAsync();
        }
    }

    public string Id { get; }

    public int? ProcessId { get; }

    public Task Exited => _exited.Task;

    public string? LastError => _lastError;

    public MachineUsage? ReadUsage(ProcessTable processes)
    {
        if (_exited.Task.IsCompleted || processes.TreeUsage(ProcessId!.Value) is not { } tree)
        {
            return null;
        }

        return _usage is null ? new MachineUsage(tree.ResidentBytes, null, tree.CpuTime, tree.Processes) : _usage(tree);
    }

    public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        // Wrappers do not pass SIGTERM on (unshare ignores it while it waits, bwrap dies and takes the
        // agent with it at once): ask the agent itself to stop, so it can stop its workload first.
        if (_wrapped && !_process.HasExited)
        {
            foreach (var agentPid in ProcessTree.Descendants(_process.Id).Take(1))
            {
                Posix.Signal(agentPid, Posix.SIGTERM);
            }
        }

        return ProcessTree.TerminateAsync(_process, grace, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await ProcessTree.TerminateAsync(_process, TimeSpan.Zero).ConfigureAwait(false);
        await CleanupAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    private async Task OnExitedAsync()
    {
        // The exit can be reported before its last words are read; whoever reports it wants them
        // (bwrap's "Can't find source path …"). Bounded: something that escaped may hold the pipe.
        await Task.WhenAny(_errorClosed.Task, Task.Delay(TimeSpan.FromSeconds(1), _time)).ConfigureAwait(false);
        await CleanupAsync().ConfigureAwait(false);
        _exited.TrySetResult();
    }

    private async ValueTask CleanupAsync()
    {
        if (_cleanup is not null && Interlocked.Exchange(ref _cleaned, 1) == 0)
        {
            try
            {
                await _cleanup().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // Best effort: a stale cgroup or socket is swept at the next start.
            }
        }
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Debug, Message = "agent {Id}: {Line}")]
    private static partial void LogAgentOutput(ILogger logger, string id, string line);

    /// <summary>
    /// The level and text of an agent's stderr line. Our agent writes <c>level: text</c>; the node logs the text at
    /// that level, so a line does not carry two levels (<c>INFO agent x: warn: …</c>). Anything else (a wrapper's
    /// complaint, a runtime's crash) keeps the level such lines always had.
    /// </summary>
    internal static (LogLevel Level, string Text) AgentLine(string line)
    {
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        var level = colon switch
        {
            < 4 or > 5 => (LogLevel?)null,
            _ => line[..colon] switch
            {
                "trace" => LogLevel.Trace,
                "debug" => LogLevel.Debug,
                "info" => LogLevel.Information,
                "warn" => LogLevel.Warning,
                "error" => LogLevel.Error,
                "fatal" => LogLevel.Critical,
                _ => null,
            },
        };
        return level is { } known ? (known, line[(colon + 2)..]) : (LogLevel.Information, line);
    }

    [LoggerMessage(EventId = 601, Message = "agent {Id}: {Line}")]
    private static partial void LogAgentError(ILogger logger, LogLevel level, string id, string line);
}
