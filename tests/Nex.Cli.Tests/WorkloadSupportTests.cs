using Nex.Cli.Commands;
using Xunit;

namespace Nex.Cli.Tests;

public sealed class WorkloadSupportTests
{
    [Fact]
    public void ParseEnvironment_SplitsAtTheFirstEquals_LaterEntriesWin()
    {
        var env = WorkloadSupport.ParseEnvironment(["A=1", "B=x=y", "C=", "A=2", "lower=ok"]);
        Assert.Equal(new Dictionary<string, string> { ["A"] = "2", ["B"] = "x=y", ["C"] = "", ["lower"] = "ok" }, env);
        Assert.Empty(WorkloadSupport.ParseEnvironment([]));
    }

    [Theory]
    [InlineData("x")]
    [InlineData("=1")]
    [InlineData("")]
    public void ParseEnvironment_RejectsEntriesWithoutAKey(string entry)
    {
        var ex = Assert.Throws<CliException>(() => WorkloadSupport.ParseEnvironment(["A=1", entry]));
        Assert.Equal($"invalid environment entry '{entry}' (expected KEY=VALUE)", ex.Message);
    }

    [Fact]
    public void ParseArgv_SplitsOnSpaces()
    {
        Assert.Equal(["-a", "1", "--b"], WorkloadSupport.ParseArgv(" -a  1 --b ")!);
        Assert.Null(WorkloadSupport.ParseArgv(null));
        Assert.Null(WorkloadSupport.ParseArgv("   "));
    }

    [Fact]
    public void Run_FirstPositionalWithoutEquals_IsTheNode()
    {
        var (node, env) = WorkloadCommands.SplitNodeAndEnvironment(["NNODE", "A=1", "B=2"]);
        Assert.Equal("NNODE", node);
        Assert.Equal(["A=1", "B=2"], env);

        (node, env) = WorkloadCommands.SplitNodeAndEnvironment(["A=1", "B"]);
        Assert.Null(node);
        Assert.Equal(["A=1", "B"], env);

        (node, env) = WorkloadCommands.SplitNodeAndEnvironment([]);
        Assert.Null(node);
        Assert.Empty(env);
    }

    [Fact]
    public void RequireTriggers_OnlyForFunctions()
    {
        WorkloadSupport.RequireTriggers("native", null);
        WorkloadSupport.RequireTriggers("v8", ["a.b"]);
        Assert.Throws<CliException>(() => WorkloadSupport.RequireTriggers("v8", []));
        Assert.Throws<CliException>(() => WorkloadSupport.RequireTriggers("wasm", null));
    }
}
