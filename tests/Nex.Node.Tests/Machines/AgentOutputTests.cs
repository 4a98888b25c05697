using Microsoft.Extensions.Logging;
using Nex.Node.Machines;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>An agent's stderr line becomes a node log line at the agent's own level, its level word not repeated.</summary>
public sealed class AgentOutputTests
{
    [Theory]
    [InlineData("info: Connected to nats://127.0.0.1:4222", LogLevel.Information, "Connected to nats://127.0.0.1:4222")]
    [InlineData("warn: slow: 3s", LogLevel.Warning, "slow: 3s")]
    [InlineData("error: boom", LogLevel.Error, "boom")]
    [InlineData("debug: detail", LogLevel.Debug, "detail")]
    [InlineData("trace: detail", LogLevel.Trace, "detail")]
    [InlineData("fatal: gone", LogLevel.Critical, "gone")]
    public void AgentLine_TakesTheLevelFromThePrefix(string line, LogLevel level, string text) =>
        Assert.Equal((level, text), AgentProcessMachine.AgentLine(line));

    [Theory]
    [InlineData("Starting Nex Agent - 0.3.0")]
    [InlineData("bwrap: Can't find source path /x: No such file or directory")]
    [InlineData("information: not a level")]
    [InlineData("")]
    public void AgentLine_WithoutAKnownPrefix_StaysInformation_AsItWas(string line) =>
        Assert.Equal((LogLevel.Information, line), AgentProcessMachine.AgentLine(line));
}
