using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Nex.Processes;

namespace Nex.Node.Machines;

/// <summary>
/// No sandbox (spec §8.7): each agent is a child process of the node, given its settings in
/// <c>NEX_*</c> environment variables, except its seed, which comes on its stdin (see
/// <see cref="SeedHandover"/>). It dies with the node (parent-death signal). When the node may create
/// PID namespaces (root), each agent is also the init of its own PID namespace, so that when it dies
/// every process its workload started dies with it, grandchildren included.
/// Development only: there is no isolation.
/// </summary>
internal sealed class ProcessMachineDriver(AgentCommand agent, ILoggerFactory loggers) : IMachineDriver
{
    private static readonly Lazy<string?> Unshare = new(() =>
        OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess ? ChildProcessLauncher.FindOnPath("unshare") : null);

    private readonly ILogger _logger = loggers.CreateLogger("Nex.Agent");

    public string Name => "none";

    public string? WorkloadNatsUrl(string mainUrl) => mainUrl;

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
        info.Environment.Remove("NEX_NODE_NATS_NKEY_SEED"); // never inherited from the node's own environment
        SeedHandover.Prepare(info);
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["DOTNET_TieredPGO"] = "0";

        var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
        await SeedHandover.WriteAsync(process, spec.UserSeed).ConfigureAwait(false);
        return new AgentProcessMachine(spec.Id, process, wrapped: Unshare.Value is not null, _logger);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
