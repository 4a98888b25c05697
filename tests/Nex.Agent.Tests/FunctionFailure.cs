using Nex.Agent.Providers;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>A failed call's result: answered at once, no data, the cause and its Nats-Service-Error-Code.</summary>
internal static class FunctionFailure
{
    public static void Is(TriggerResult? result, int code, string? causeContains = null)
    {
        Assert.NotNull(result);
        Assert.True(result.Data.IsEmpty);
        Assert.Equal(code, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.Error));
        if (causeContains is not null)
        {
            Assert.Contains(causeContains, result.Error, StringComparison.Ordinal);
        }
    }
}
