using System.CommandLine;
using Nex.Cli;
using Nex.Cli.Commands;

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
root.Subcommands.Add(SandboxCommands.CreateRootfs());

return await CliRunner.RunAsync(root, args);
