using Nex.Cli.Commands;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>devrun/run flags for functions: <c>--trigger</c>, <c>--queue-group</c>, <c>--function-timeout</c>.</summary>
public sealed class FunctionOptionsTests
{
    [Theory]
    [InlineData("2s", 2000)]
    [InlineData("500ms", 500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1.5", 1500)]
    [InlineData("1500us", 2)]
    public void FunctionTimeout_IsAGoDuration_InWholeMilliseconds(string text, int expected)
    {
        var (timeoutMs, group) = WorkloadSupport.ParseFunctionOptions("v8", text, null);
        Assert.Equal(expected, timeoutMs);
        Assert.Null(group);
    }

    [Fact]
    public void NothingGiven_NothingSet()
    {
        Assert.Equal((null, null), WorkloadSupport.ParseFunctionOptions("wasm", null, null));
        Assert.Equal((null, null), WorkloadSupport.ParseFunctionOptions("native", null, null));
    }

    [Fact]
    public void QueueGroup_IsPassedOn()
    {
        Assert.Equal((null, "workers"), WorkloadSupport.ParseFunctionOptions("wasm", null, "workers"));
        Assert.Equal((250, "q"), WorkloadSupport.ParseFunctionOptions("v8", "250ms", "q"));
    }

    [Theory]
    [InlineData("soon", "invalid duration for --function-timeout: 'soon'")]
    [InlineData("0s", "--function-timeout must be between 1ms and")]
    [InlineData("1000h", "--function-timeout must be between 1ms and")]
    public void FunctionTimeout_Invalid_OneLine(string text, string expected)
    {
        var ex = Assert.Throws<CliException>(() => WorkloadSupport.ParseFunctionOptions("v8", text, null));
        Assert.StartsWith(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    public void QueueGroup_Invalid(string group)
    {
        var ex = Assert.Throws<CliException>(() => WorkloadSupport.ParseFunctionOptions("v8", null, group));
        Assert.Equal($"invalid --queue-group '{group}' (a non-empty name without spaces)", ex.Message);
    }

    [Fact]
    public void FunctionFlags_OnANativeWorkload_AreRefused()
    {
        Assert.Equal(
            "--function-timeout only applies to function workloads (v8, wasm), not 'native'",
            Assert.Throws<CliException>(() => WorkloadSupport.ParseFunctionOptions("native", "2s", null)).Message);
        Assert.Equal(
            "--queue-group only applies to function workloads (v8, wasm), not 'native'",
            Assert.Throws<CliException>(() => WorkloadSupport.ParseFunctionOptions("native", null, "q")).Message);
    }

    [Fact]
    public void DevRun_Trigger_IsAnAliasOfTriggerSubject_AndRepeatable()
    {
        var parse = WorkloadCommands.CreateDevRun().Parse(["fn.js", "--trigger", "hello", "--trigger_subject", "other", "--queue-group", "g", "--function-timeout", "2s"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(["hello", "other"], parse.GetValue<string[]>("--trigger_subject")!);
        Assert.Equal("g", parse.GetValue<string?>("--queue-group"));
        Assert.Equal("2s", parse.GetValue<string?>("--function-timeout"));
    }

    [Fact]
    public void Run_HasTheSameFunctionFlags()
    {
        var parse = WorkloadCommands.CreateRun().Parse(["nats://NEXCLIFILES/echojs", "--trigger", "hello", "--queue-group", "g", "--function-timeout", "750ms"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(["hello"], parse.GetValue<string[]>("--trigger_subject")!);
        Assert.Equal("g", parse.GetValue<string?>("--queue-group"));
        Assert.Equal("750ms", parse.GetValue<string?>("--function-timeout"));
    }

    [Fact]
    public void ReuseContext_IsAFlagOfRunAndDevRun_ForV8Only()
    {
        Assert.True(WorkloadCommands.CreateRun().Parse(["nats://NEXCLIFILES/echojs", "--trigger", "hello", "--reuse-context"]).GetValue<bool>("--reuse-context"));
        Assert.True(WorkloadCommands.CreateDevRun().Parse(["fn.js", "--trigger", "hello", "--reuse-context"]).GetValue<bool>("--reuse-context"));
        Assert.False(WorkloadCommands.CreateDevRun().Parse(["fn.js", "--trigger", "hello"]).GetValue<bool>("--reuse-context"));

        Assert.True(WorkloadSupport.RequireReuseContext("v8", true));
        Assert.False(WorkloadSupport.RequireReuseContext("wasm", false));
        Assert.Equal(
            "--reuse-context only applies to v8 functions, not 'wasm'",
            Assert.Throws<CliException>(() => WorkloadSupport.RequireReuseContext("wasm", true)).Message);
        Assert.Equal(
            "--reuse-context only applies to v8 functions, not 'native'",
            Assert.Throws<CliException>(() => WorkloadSupport.RequireReuseContext("native", true)).Message);
    }

    [Fact]
    public void Invoke_ParsesSubjectPayloadAndFlags()
    {
        var parse = InvokeCommand.Create().Parse(["hello", "hello world", "--headers"]);

        Assert.Empty(parse.Errors);
        Assert.Equal("hello", parse.GetValue<string>("subject"));
        Assert.Equal("hello world", parse.GetValue<string?>("payload"));
        Assert.True(parse.GetValue<bool>("--headers"));
    }
}
