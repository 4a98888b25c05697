using System.CommandLine;
using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>Plain <c>nex</c>, <c>--help</c> examples, shell completion and <c>node preflight --json</c>.</summary>
public sealed class HelpAndCompletionTests
{
    [Fact]
    public async Task PlainNex_PrintsHelp_AndExits1LikeGit()
    {
        var cli = await CliProcess.RunAsync([]);
        Assert.Equal(1, cli.ExitCode);
        Assert.Contains("Usage:", cli.StdOut, StringComparison.Ordinal);
        Assert.Contains("devrun", cli.StdOut, StringComparison.Ordinal);
        Assert.Equal(string.Empty, cli.StdErr);
    }

    [Fact]
    public void EveryCommand_HasAnExampleInItsHelp()
    {
        // CreateRoot refuses a command without an example; check what it wrote, for every command.
        var root = CliApp.CreateRoot();
        var commands = new List<Command>();
        void Walk(Command c)
        {
            commands.Add(c);
            foreach (var sub in c.Subcommands)
            {
                Walk(sub);
            }
        }

        Walk(root);
        Assert.True(commands.Count > 15, $"only {commands.Count} commands");
        Assert.All(commands, c => Assert.Matches(@"\n\nExample:\n  nex |\n\nExample:\n  source <\(nex ", c.Description!));
    }

    [Fact]
    public async Task Help_ShowsTheExample()
    {
        var cli = await CliProcess.RunAsync(["node", "ls", "--help"]);
        Assert.Equal(0, cli.ExitCode);
        Assert.Contains("Example:", cli.StdOut, StringComparison.Ordinal);
        Assert.Contains("nex node ls --full", cli.StdOut, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _nex_complete nex")]
    [InlineData("zsh", "compdef _nex nex")]
    [InlineData("fish", "complete -c nex -f -a '(__nex_complete)'")]
    public async Task Completion_PrintsAScriptForTheShell(string shell, string expected)
    {
        var cli = await CliProcess.RunAsync(["completion", shell]);
        Assert.Equal(0, cli.ExitCode);
        Assert.Contains(expected, cli.StdOut, StringComparison.Ordinal);
        Assert.Contains("[suggest:", cli.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SuggestDirective_TheScriptsUse_ListsSubcommands()
    {
        var cli = await CliProcess.RunAsync(["[suggest:9]", "nex node "]);
        Assert.Equal(0, cli.ExitCode);
        var lines = cli.StdOut.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("ls", lines);
        Assert.Contains("up", lines);
        Assert.Contains("preflight", lines);
    }

    [Fact]
    public async Task CompletionScript_WorksInBash()
    {
        var bash = Nex.Processes.ChildProcessLauncher.FindOnPath("bash");
        Assert.SkipWhen(bash is null || !OperatingSystem.IsLinux(), "no bash");
        using var dir = new TempDirectory();
        var wrapper = dir.File("nex");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec dotnet {CliProcess.NexDll} \"$@\"\n", TestContext.Current.CancellationToken);
        if (OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var script = $"""
            source <("{wrapper}" completion bash)
            COMP_LINE="{wrapper} node pre"; COMP_POINT=${"{#COMP_LINE}"}; COMP_WORDS=("{wrapper}" node pre); COMP_CWORD=2
            _nex_complete
            printf '%s\n' "${"{COMPREPLY[@]}"}"
            """;
        var info = new System.Diagnostics.ProcessStartInfo(bash!) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        using var process = System.Diagnostics.Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal("preflight", output.Trim());
    }

    [Fact]
    public async Task NodePreflight_Json_IsJson()
    {
        using var dir = new TempDirectory();
        var cli = await CliProcess.RunAsync(["node", "preflight", "--json"], new Dictionary<string, string?> { ["HOME"] = dir.Path, ["NEX_HOME"] = dir.Path });
        using var doc = JsonDocument.Parse(cli.StdOut);
        Assert.Equal(doc.RootElement.GetProperty("ready").GetBoolean() ? 0 : 1, cli.ExitCode);
        Assert.NotEmpty(doc.RootElement.GetProperty("checks").EnumerateArray());
        Assert.True(doc.RootElement.TryGetProperty("sandbox", out _));
    }
}
