using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>Every bad input: one readable line on stderr, a non-zero exit code.</summary>
public sealed class CliErrorTests
{
    private static void AssertOneLine(CliProcess cli, string expected)
    {
        Assert.NotEqual(0, cli.ExitCode);
        var lines = cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("nex: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownFlag() => AssertOneLine(await CliProcess.RunAsync(["node", "ls", "--bogus"]), "--bogus");

    [Fact]
    public async Task UnknownCommand() => AssertOneLine(await CliProcess.RunAsync(["frobnicate"]), "frobnicate");

    [Fact]
    public async Task BadTimeout() => AssertOneLine(await CliProcess.RunAsync(["node", "ls", "--timeout", "soon", "-s", "nats://127.0.0.1:1"]), "invalid duration for --timeout");

    [Fact]
    public async Task NoServer() => AssertOneLine(await CliProcess.RunAsync(["node", "ls", "-s", "nats://127.0.0.1:1"]), "cannot connect to NATS at nats://127.0.0.1:1");

    [Fact]
    public async Task MissingConfigFile() => AssertOneLine(await CliProcess.RunAsync(["node", "up", "--config", "/nonexistent/nex.json"]), "failed to load configuration file: open /nonexistent/nex.json: no such file or directory");

    [Fact]
    public async Task BadConfigFile()
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("c.json"), """{ "machine_pool_size": 0 }""", TestContext.Current.CancellationToken);
        AssertOneLine(await CliProcess.RunAsync(["node", "up", "--config", dir.File("c.json"), "-s", "nats://127.0.0.1:1"]), "machine_pool_size must be at least 1");
    }

    [Fact]
    public async Task UnknownContext() => AssertOneLine(await CliProcess.RunAsync(["node", "ls", "--context", "no-such-context"]), "unknown NATS context 'no-such-context'");

    [Theory]
    [InlineData("a.b")]
    [InlineData(">")]
    [InlineData("$SYS")]
    public async Task BadNamespace_IsRefusedBeforeConnecting(string ns) =>
        AssertOneLine(await CliProcess.RunAsync(["workload", "ls", "-n", ns, "-s", "nats://127.0.0.1:1"]), $"invalid --namespace: namespace '{ns}' does not match requirements (^[a-zA-Z0-9_-]{{1,64}}$)");

    [Fact]
    public async Task BadLogLevel() => AssertOneLine(await CliProcess.RunAsync(["logs", "--level", "loud"]), "loud");
}
