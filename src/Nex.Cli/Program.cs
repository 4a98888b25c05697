using Nex.Cli;

return await CliRunner.RunAsync(CliApp.CreateRoot(), args);
