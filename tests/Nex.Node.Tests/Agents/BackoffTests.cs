using Xunit;

namespace Nex.Node.Tests.Agents;

/// <summary>The node's one exponential backoff (agent starts, essential restarts, internal NATS restarts).</summary>
public sealed class BackoffTests
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(1, 250)]
    [InlineData(2, 500)]
    [InlineData(3, 1000)]
    [InlineData(6, 8000)]
    [InlineData(7, 10000)] // 16 s, capped
    public void Doubles_FromTheFirst_UpToTheMax(int attempt, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), Backoff.Exponential(First, Max, attempt));

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(int.MinValue)]
    public void AttemptsBelowOne_CountAsTheFirst(int attempt) => Assert.Equal(First, Backoff.Exponential(First, Max, attempt));

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(int.MaxValue)]
    public void HugeAttempts_DoNotOverflow(int attempt) => Assert.Equal(Max, Backoff.Exponential(First, Max, attempt));

    [Fact]
    public void AMaxBelowTheFirst_Wins() =>
        Assert.Equal(TimeSpan.FromMilliseconds(100), Backoff.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(100), 1));

    [Fact]
    public void ALongMax_IsReachedExactly() =>
        Assert.Equal(TimeSpan.FromDays(1), Backoff.Exponential(TimeSpan.FromSeconds(1), TimeSpan.FromDays(1), 31));
}
