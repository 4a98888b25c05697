using Nex.Cli;
using Nex.Processes;

// Before any socket exists: .NET reads this once (the node's NATS reads then skip a thread-pool hop).
SocketCompletions.PreferInline();
return await CliRunner.RunAsync(CliApp.CreateRoot(), args);
