using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// No sandbox (spec §8.7): each agent is a child process of the node, given its settings in
/// <c>NEX_*</c> environment variables. It dies with the node (parent-death signal). When the node
/// may create PID namespaces (root), each agent is also the init of its own PID namespace, so
/// that when it dies every process its workload started dies with it, grandchildren included.
/// Development only: there is no isolation.
/// </summary>
internal sealed partial class ProcessMachineDriver(AgentCommand agent, ILoggerFactory loggers) : IMachineDriver
{
    private static readonly Lazy<string?> Unshare = new(() =>
        OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess ? ChildProcessLauncher.FindOnPath("unshare") : null);

    private readonly ILogger _logger = loggers.CreateLogger("Nex.Agent");

    public string Name => "none";

    public async Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Unshare.Value ?? agent.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Unshare.Value is not null)
        {
            // unshare waits for the agent and, if unshare itself is killed, SIGKILLs it: the
            // namespace, and everything in it, goes with it. The agent gets a /proc of its own
            // namespace, so its pids and /proc agree when it walks its workload's process tree.
            foreach (var arg in new[] { "--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", "--", agent.FileName })
            {
                info.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in agent.Arguments)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["NEX_SANDBOX"] = "false";
        info.Environment["NEX_WORKLOADID"] = spec.Id;
        info.Environment["NEX_NODE_NATS_HOST"] = spec.NatsHost;
        info.Environment["NEX_NODE_NATS_PORT"] = spec.NatsPort.ToString(CultureInfo.InvariantCulture);
        info.Environment["NEX_NODE_NATS_NKEY_SEED"] = spec.UserSeed;
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["DOTNET_TieredPGO"] = "0";

        var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
        var machine = new ProcessMachine(spec.Id, process, wrapped: Unshare.Value is not null);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogAgentOutput(_logger, spec.Id, line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                LogAgentError(_logger, spec.Id, line);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return machine;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [LoggerMessage(EventId = 600, Level = LogLevel.Debug, Message = "agent {Id}: {Line}")]
    private static partial void LogAgentOutput(ILogger logger, string id, string line);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "agent {Id}: {Line}")]
    private static partial void LogAgentError(ILogger logger, string id, string line);

    private sealed class ProcessMachine : IMachine
    {
        private readonly Process _process;
        private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private readonly bool _wrapped;

        public ProcessMachine(string id, Process process, bool wrapped)
        {
            Id = id;
            _process = process;
            _wrapped = wrapped;
            ProcessId = process.Id;
            process.Exited += (_, _) => _exited.TrySetResult();
            if (process.HasExited)
            {
                _exited.TrySetResult();
            }
        }

        public string Id { get; }

        public int? ProcessId { get; }

        public Task Exited => _exited.Task;

        public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
        {
            // unshare ignores SIGTERM while it waits for its child: ask the agent itself to stop.
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
            _process.Dispose();
        }
    }
}
