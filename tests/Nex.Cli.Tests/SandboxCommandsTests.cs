using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex node preflight</c> and <c>nex rootfs build</c> from the command line.</summary>
public sealed class SandboxCommandsTests
{
    [Fact]
    public async Task Preflight_ListsWhatIsMissing_WithTheExactFix_AndExitsNonZero()
    {
        using var home = new TempDirectory();
        if (!OperatingSystem.IsWindows())
        {
            // As root, a NEX_HOME the sandbox user cannot reach (a temp directory is 0700) would give way to
            // /var/lib/nex/sandbox; this one it can reach.
            File.SetUnixFileMode(home.Path, (UnixFileMode)0b111_101_101);
        }

        var cli = await CliProcess.RunAsync(["node", "preflight", "--driver", "container"], new Dictionary<string, string?> { ["NEX_HOME"] = home.Path });
        Assert.Equal(1, cli.ExitCode);
        var missing = cli.StdOut.Split('\n').Single(l => l.Contains("root filesystem", StringComparison.Ordinal));
        Assert.Contains("MISSING", missing, StringComparison.Ordinal);
        Assert.Contains($"nex rootfs build --output {Path.Combine(home.Path, "sandbox")}", missing, StringComparison.Ordinal);
        Assert.Contains("run 'nex node preflight --install' to fix", cli.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preflight_ForTheProcessDriver_NeedsOnlyNatsServer()
    {
        using var home = new TempDirectory();
        var cli = await CliProcess.RunAsync(["node", "preflight", "--driver", "none"], new Dictionary<string, string?> { ["NEX_HOME"] = home.Path });
        Assert.Equal(0, cli.ExitCode);
        Assert.Contains("nats-server", cli.StdOut, StringComparison.Ordinal);
        Assert.Contains("ready: sandbox 'none' is configured", cli.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RootfsBuild_WithoutANativeAgent_FailsWithOneLine()
    {
        using var dir = new TempDirectory();
        var cli = await CliProcess.RunAsync(["rootfs", "build", "--agent", dir.Path, "--output", dir.File("out")]);
        Assert.Equal(1, cli.ExitCode);
        var lines = cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("nex: ", StringComparison.Ordinal)).ToArray();
        Assert.Single(lines);
        Assert.Contains("no native agent at", lines[0], StringComparison.Ordinal);
    }
}
