using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// No sandbox (spec §8.7): each agent is a child process of the node, given its settings in
/// <c>NEX_*</c> environment variables. It dies with the node (parent-death signal). Development only.
/// </summary>
internal sealed partial class ProcessMachineDriver(AgentCommand agent, ILoggerFactory loggers) : IMachineDriver
{
    private readonly ILogger _logger = loggers.CreateLogger("Nex.Agent");

    public string Name => "none";

    public async Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(agent.FileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
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
        var machine = new ProcessMachine(spec.Id, process);
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

        public ProcessMachine(string id, Process process)
        {
            Id = id;
            _process = process;
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

        public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken) =>
            ProcessTree.TerminateAsync(_process, grace, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await ProcessTree.TerminateAsync(_process, TimeSpan.Zero).ConfigureAwait(false);
            _process.Dispose();
        }
    }
}
