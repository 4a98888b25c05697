using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>Bad input to the workload commands: one readable line on stderr, a non-zero exit code, nothing sent.</summary>
public sealed class WorkloadCliErrorTests : IDisposable
{
    // Nothing listens here: a command that got as far as connecting fails with "cannot connect".
    private const string NoServer = "nats://127.0.0.1:1";

    private readonly TempDirectory _home = new();

    private Dictionary<string, string?> Env => new() { ["NEX_HOME"] = _home.Path, ["HOME"] = _home.Path };

    public void Dispose() => _home.Dispose();

    private async Task AssertOneLineAsync(string expected, params string[] args)
    {
        var cli = await CliProcess.RunAsync([.. args, "-s", NoServer], Env);
        Assert.NotEqual(0, cli.ExitCode);
        var lines = cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{cli.StdErr}");
        Assert.StartsWith("nex: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.Equal("", cli.StdOut);
    }

    private string WriteFile(string name, string content = "#!/bin/sh\necho hi\n")
    {
        var path = _home.File(name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public Task Run_BadEnvironmentEntry() =>
        AssertOneLineAsync("invalid environment entry 'x' (expected KEY=VALUE)", "run", "nats://NEXCLIFILES/echo", "NNODE", "A=1", "x");

    [Fact]
    public Task Run_BadEnvOption() =>
        AssertOneLineAsync("invalid environment entry '=1' (expected KEY=VALUE)", "run", "nats://NEXCLIFILES/echo", "--env", "=1");

    [Fact]
    public Task Run_FunctionWithoutTrigger() =>
        AssertOneLineAsync("cannot start a function-type workload without specifying at least one trigger subject", "run", "nats://NEXCLIFILES/echofunction.js");

    [Fact]
    public Task Run_WasmTypeWithoutTrigger() =>
        AssertOneLineAsync("cannot start a function-type workload without specifying at least one trigger subject", "run", "nats://NEXCLIFILES/echo", "--type", "wasm");

    [Fact]
    public Task Run_NotAUrl() => AssertOneLineAsync("invalid workload location 'echo'", "run", "echo");

    [Fact]
    public Task Run_NoKey() => AssertOneLineAsync("names no object key", "run", "nats://NEXCLIFILES");

    [Fact]
    public Task Run_MissingIssuerFile() =>
        AssertOneLineAsync("could not read seed file '/nonexistent/issuer.nk'", "run", "nats://NEXCLIFILES/echo", "--issuer", "/nonexistent/issuer.nk");

    [Fact]
    public Task Run_GarbageIssuerFile() =>
        AssertOneLineAsync("could not load seed file", "run", "nats://NEXCLIFILES/echo", "--issuer", WriteFile("garbage.nk", "hello\n"));

    [Fact]
    public Task Run_XkeyThatIsNotACurveKey()
    {
        var path = _home.File("account.nk");
        using (var account = NexKeys.CreateAccount())
        {
            NexKeys.WriteSeedFile(path, account);
        }

        return AssertOneLineAsync("does not hold a curve seed", "run", "nats://NEXCLIFILES/echo", "--xkey", path);
    }

    [Fact]
    public Task Run_IssuerThatIsACurveKey()
    {
        var path = _home.File("curve.xk");
        using (var curve = NexKeys.CreateCurve())
        {
            NexKeys.WriteSeedFile(path, curve);
        }

        return AssertOneLineAsync("holds a curve (xkey) seed", "run", "nats://NEXCLIFILES/echo", "--issuer", path);
    }

    [Fact]
    public Task Run_BadName() => AssertOneLineAsync("workload name 'my.name' (--name) does not match ^[a-zA-Z0-9_-]+$", "run", "nats://NEXCLIFILES/echo", "--name", "my.name");

    [Fact]
    public Task Run_BadHash() => AssertOneLineAsync("--hash 'abc' is not a SHA-256 digest", "run", "nats://NEXCLIFILES/echo", "--hash", "abc");

    [Fact]
    public Task Run_TwoNodes() => AssertOneLineAsync("two nodes given", "run", "nats://NEXCLIFILES/echo", "NNODE1", "--node", "NNODE2");

    [Fact]
    public Task Run_BadType() => AssertOneLineAsync("'oops'", "run", "nats://NEXCLIFILES/echo", "--type", "oops");

    [Fact]
    public Task Run_ValidArguments_GetAsFarAsConnecting() =>
        AssertOneLineAsync("cannot connect to NATS at nats://127.0.0.1:1", "run", "nats://NEXCLIFILES/echo", "NNODE", "A=1", "B=x=y", "--env", "C=", "--argv", "-a  -b", "--essential");

    [Fact]
    public Task DevRun_MissingFile() => AssertOneLineAsync("file '/nonexistent/echoservice' not found", "devrun", "/nonexistent/echoservice");

    [Fact]
    public Task DevRun_Directory() => AssertOneLineAsync("is a directory, not a file", "devrun", _home.Path);

    [Fact]
    public Task DevRun_FunctionWithoutTrigger() =>
        AssertOneLineAsync("cannot start a function-type workload without specifying at least one trigger subject", "devrun", WriteFile("echofunction.js", "(s, p) => p"));

    [Fact]
    public Task DevRun_BadEnvironmentEntry() => AssertOneLineAsync("invalid environment entry 'NOVALUE' (expected KEY=VALUE)", "devrun", WriteFile("echoservice"), "A=1", "NOVALUE");

    [Fact]
    public Task DevRun_FileNameThatIsNoWorkloadName() => AssertOneLineAsync("does not match ^[a-zA-Z0-9_-]+$", "devrun", WriteFile("echo service"));

    [Fact]
    public Task DevRun_BadBucketSize() => AssertOneLineAsync("--bucketmaxbytes must be positive", "devrun", WriteFile("echoservice"), "--bucketmaxbytes", "0");

    [Fact]
    public Task DevRun_StopFalse_IsAccepted() => AssertOneLineAsync("cannot connect to NATS", "devrun", WriteFile("echoservice"), "--stop=false");

    [Fact]
    public Task Yeet_IsDevRun() => AssertOneLineAsync("file '/nonexistent/x' not found", "yeet", "/nonexistent/x");

    [Fact]
    public Task Stop_NoArguments() => AssertOneLineAsync("Required argument missing", "stop");

    [Fact]
    public Task Stop_WithoutAnyIssuer() => AssertOneLineAsync("no --issuer given and no developer issuer", "stop", "echoservice");

    [Fact]
    public Task Stop_MissingIssuerFile() => AssertOneLineAsync("could not read seed file '/nonexistent/i.nk'", "stop", "echoservice", "--issuer", "/nonexistent/i.nk");

    [Fact]
    public Task Stop_TooManyArguments() => AssertOneLineAsync("'c'", "stop", "a", "b", "c");

    [Fact]
    public Task WorkloadLs_NoServer() => AssertOneLineAsync("cannot connect to NATS at nats://127.0.0.1:1", "workload", "ls");

    [Fact]
    public Task WorkloadList_IsLs() => AssertOneLineAsync("cannot connect to NATS at nats://127.0.0.1:1", "workload", "list");
}
