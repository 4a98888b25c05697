using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Node.Machines;

/// <summary>
/// No sandbox (spec §8.7): each agent is a child process of the node, given its settings in
/// <c>NEX_*</c> environment variables, except its seed, which comes on its stdin (see
/// <see cref="SeedHandover"/>). It dies with the node (parent-death signal). When the node may create
/// PID namespaces (root), each agent is also the init of its own PID namespace, so that when it dies
/// every process its workload started dies with it, grandchildren included.
/// Development only: there is no isolation.
/// </summary>
/// <remarks>
/// Each agent gets a <c>TMPDIR</c> of its own, <c>&lt;run directory&gt;/&lt;id&gt;</c>, where it writes its
/// artifact (<c>workload-&lt;id&gt;</c>) and its workload its temporary files. The directory goes when the
/// agent goes, however it went; the run directory of a node killed with -9 goes at the next start
/// (<see cref="RunDirectory"/>), so a crash leaves nothing in the shared <c>$TMPDIR</c>.
/// </remarks>
internal sealed class ProcessMachineDriver(AgentCommand agent, ILoggerFactory loggers) : IMachineDriver
{
    /// <summary>The prefix of the no-sandbox driver's run directory.</summary>
    public const string RunDirectoryPrefix = "nex-agents-";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private static readonly Lazy<string?> Unshare = new(() =>
        OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess ? ChildProcessLauncher.FindOnPath("unshare") : null);

    private readonly ILogger _logger = loggers.CreateLogger("Nex.Agent");
    private readonly Lazy<string> _runDirectory = new(() => RunDirectory.Create(RunDirectoryPrefix));

    /// <summary>Where the agents' own directories are (created with the first agent).</summary>
    public string RunDirectoryPath => _runDirectory.Value;

    public string Name => SandboxDrivers.None.Name;

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

        info.Environment[AgentEnvironment.Sandbox] = "false";
        info.Environment[AgentEnvironment.WorkloadId] = spec.Id;
        info.Environment[AgentEnvironment.NatsHost] = spec.NatsHost;
        info.Environment[AgentEnvironment.NatsPort] = spec.NatsPort.ToString(CultureInfo.InvariantCulture);
        info.Environment.Remove(AgentEnvironment.NatsSeed); // never inherited from the node's own environment
        SeedHandover.Prepare(info);
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["DOTNET_TieredPGO"] = "0";
        var tmp = Path.Combine(_runDirectory.Value, spec.Id);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(tmp);
        }
        else
        {
            Directory.CreateDirectory(tmp, OwnerOnly);
        }

        info.Environment["TMPDIR"] = tmp;

        Process process;
        try
        {
            process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
            await SeedHandover.WriteAsync(process, spec.UserSeed).ConfigureAwait(false);
        }
        catch
        {
            RunDirectory.Delete(tmp);
            throw;
        }

        return new AgentProcessMachine(spec.Id, process, wrapped: Unshare.Value is not null, _logger, cleanup: () =>
        {
            RunDirectory.Delete(tmp);
            return ValueTask.CompletedTask;
        });
    }

    public ValueTask DisposeAsync()
    {
        if (_runDirectory.IsValueCreated)
        {
            RunDirectory.Delete(_runDirectory.Value);
        }

        return ValueTask.CompletedTask;
    }
}
