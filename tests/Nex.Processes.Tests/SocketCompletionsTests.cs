using System.Diagnostics;
using Nex.Processes;
using Xunit;

namespace Nex.Processes.Tests;

public sealed class SocketCompletionsTests
{
    // The variable is process-wide and read once, at the first socket: each case runs in a child `sh`
    // started with the environment PreferInline would leave, to check what a process would see.
    [Theory]
    [InlineData(null, true, "1")]
    [InlineData("1", true, "1")]
    [InlineData("0", false, "0")]
    public void PreferInline_SetsTheVariableUnlessTheEnvironmentSays(string? given, bool expectedOn, string expectedValue)
    {
        var saved = Environment.GetEnvironmentVariable(SocketCompletions.Variable);
        try
        {
            Environment.SetEnvironmentVariable(SocketCompletions.Variable, given);
            Assert.Equal(expectedOn, SocketCompletions.PreferInline());
            Assert.Equal(expectedValue, Environment.GetEnvironmentVariable(SocketCompletions.Variable));

            // What a child (an agent started by the node) inherits.
            var info = new ProcessStartInfo("sh", ["-c", $"printf %s \"${SocketCompletions.Variable}\""]) { RedirectStandardOutput = true };
            using var child = Process.Start(info)!;
            Assert.Equal(expectedValue, child.StandardOutput.ReadToEnd());
            child.WaitForExit();
        }
        finally
        {
            Environment.SetEnvironmentVariable(SocketCompletions.Variable, saved);
        }
    }
}
