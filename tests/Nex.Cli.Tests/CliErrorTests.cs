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
    public async Task BadServerUrl() => AssertOneLine(await CliProcess.RunAsync(["node", "ls", "-s", "htp://bad url"]), "invalid server URL 'htp://bad url': expected nats://HOST:PORT");

    [Fact]
    public async Task RunFromAnHttpUrl() => AssertOneLine(await CliProcess.RunAsync(["run", "http://example.com/x", "-s", "nats://127.0.0.1:1"]), "is not a nats:// URL");

    [Fact]
    public async Task ConfigTypeError_NamesFieldAndLine()
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("c.json"), "{\n  \"machine_pool_size\": \"three\"\n}", TestContext.Current.CancellationToken);
        AssertOneLine(await CliProcess.RunAsync(["node", "up", "--config", dir.File("c.json"), "-s", "nats://127.0.0.1:1"]), "line 2: machine_pool_size must be an integer");
    }

    // devrun checks what it can before it connects, uploads or stops anything (the server here does not exist).
    [Theory]
    [InlineData("echo.js", "--trigger", "$NEX.foo", "reserved subject space")]
    [InlineData("echo.js", "--trigger", "_INBOX.x", "reserved subject space")]
    [InlineData("echo.js", "--trigger", ">", "would capture every subject")]
    [InlineData("echo.js", "--trigger", "a..b", "invalid trigger subject 'a..b'")]
    [InlineData("echo.js", "--type", "wasm", "'echo.js' is not a WebAssembly module")]
    [InlineData("echo.js", "-n", "a.b", "invalid --namespace: namespace 'a.b'")]
    [InlineData("echo.js", "--trigger", "_INBOX_app.x", "reserved subject space")]
    [InlineData("echo.js", "--trigger", "*.foo", "would capture every subject")]
    [InlineData("mod.wasm", "--type", "v8", "'mod.wasm' is a binary, not JavaScript; deploy it with --type wasm")]
    [InlineData("missing.js", "--type", "v8", "file '")]
    public async Task DevRun_RefusedLocally(string file, string flag, string value, string expected)
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("echo.js"), "export default function run(subject, payload) { return payload; }\n", TestContext.Current.CancellationToken);
        await File.WriteAllBytesAsync(dir.File("mod.wasm"), [0, (byte)'a', (byte)'s', (byte)'m', 1, 0, 0, 0], TestContext.Current.CancellationToken);
        string[] args = ["devrun", dir.File(file), flag, value, "-s", "nats://127.0.0.1:1"];
        if (flag != "--trigger")
        {
            args = [.. args, "--trigger", "echo"];
        }

        AssertOneLine(await CliProcess.RunAsync(args, new Dictionary<string, string?> { ["HOME"] = dir.Path, ["NEX_HOME"] = dir.Path }), expected);
    }

    [Fact]
    public async Task BadLogLevel() => AssertOneLine(await CliProcess.RunAsync(["logs", "--level", "loud"]), "loud");
}
