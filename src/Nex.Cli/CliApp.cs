using System.CommandLine;
using Nex.Cli.Commands;

namespace Nex.Cli;

/// <summary>The command tree of <c>nex</c>, with one example per command in its <c>--help</c>.</summary>
internal static class CliApp
{
    /// <summary>One example per command path (the path without <c>nex</c>); <see cref="CreateRoot"/> refuses a command without one.</summary>
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        [""] = "nex devrun ./echo.js --trigger echo",
        ["node"] = "nex node ls",
        ["node up"] = "nex node up --config ./config.json",
        ["node ls"] = "nex node ls --full",
        ["node info"] = "nex node info brave-salmon",
        ["node lameduck"] = "nex node lameduck brave-salmon",
        ["node probe"] = "nex node probe --workload echo",
        ["node preflight"] = "nex node preflight --driver container --install",
        ["lameduck"] = "nex lameduck brave-salmon",
        ["run"] = "nex run nats://NEXCLIFILES/echo --node brave-salmon -e GREETING=hi",
        ["devrun"] = "nex devrun ./echo.js --trigger echo -e GREETING=hi",
        ["stop"] = "nex stop echo",
        ["workload"] = "nex workload ls",
        ["workload ls"] = "nex workload ls --json",
        ["invoke"] = "nex invoke echo 'hello'",
        ["events"] = "nex events --count 5",
        ["logs"] = "nex logs --workload echo --level warn",
        ["top"] = "nex top -n '*' --interval 2s",
        ["rootfs"] = "nex rootfs build",
        ["rootfs build"] = "nex rootfs build --output ~/.nex/sandbox",
        ["completion"] = "source <(nex completion bash)",
    };

    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("Nex for .NET: turn a NATS system into a deployment target. Runs native services and JavaScript/WebAssembly functions on nodes you reach through NATS.");
        foreach (var option in GlobalOptions.All)
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(NodeCommands.Create());
        root.Subcommands.Add(NodeCommands.CreateLameDuck());
        root.Subcommands.Add(WorkloadCommands.CreateRun());
        root.Subcommands.Add(WorkloadCommands.CreateDevRun());
        root.Subcommands.Add(WorkloadCommands.CreateStop());
        root.Subcommands.Add(WorkloadCommands.CreateWorkload());
        root.Subcommands.Add(InvokeCommand.Create());
        root.Subcommands.Add(MonitorCommands.CreateEvents());
        root.Subcommands.Add(MonitorCommands.CreateLogs());
        root.Subcommands.Add(TopCommand.Create());
        root.Subcommands.Add(SandboxCommands.CreateRootfs());
        root.Subcommands.Add(CompletionCommand.Create());
        AddExamples(root, "");
        return root;
    }

    private static void AddExamples(Command command, string path)
    {
        if (!Examples.TryGetValue(path, out var example))
        {
            throw new InvalidOperationException($"no --help example for 'nex {path}'");
        }

        command.Description = $"{command.Description}\n\nExample:\n  {example}";
        foreach (var sub in command.Subcommands)
        {
            AddExamples(sub, path.Length == 0 ? sub.Name : $"{path} {sub.Name}");
        }
    }
}
