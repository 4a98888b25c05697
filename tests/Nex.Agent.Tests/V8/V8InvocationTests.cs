using Microsoft.Extensions.Time.Testing;
using Nex.Agent.Providers;
using Nex.Agent.Providers.V8;
using Xunit;
using Nex.Protocol;

namespace Nex.Agent.Tests.V8;

/// <summary>The invocation state machine and its time decisions, on a fake clock (no V8, no NATS).</summary>
public sealed class V8InvocationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void FirstOutcomeWins_ResultThenError()
    {
        var invocation = new V8Invocation("s", []);
        Assert.False(invocation.HasOutcome);
        invocation.Succeed([1, 2]);
        invocation.Fail("late");
        Assert.True(invocation.HasOutcome);
        Assert.Equal([1, 2], invocation.Result);
        Assert.Null(invocation.Error);
    }

    [Fact]
    public void FirstOutcomeWins_ErrorThenResult()
    {
        var invocation = new V8Invocation("s", []);
        invocation.Fail("boom");
        invocation.Succeed([1]);
        Assert.Equal("boom", invocation.Error);
        Assert.Null(invocation.Result);
    }

    [Fact]
    public void Deadline_FiresAtTheTimeout_NotBefore()
    {
        var time = new FakeTimeProvider();
        var invocation = new V8Invocation("s", []);
        V8Invocation? fired = null;
        invocation.MarkStarted(time);
        invocation.ArmDeadline(time, Timeout, state => fired = (V8Invocation)state!);

        time.Advance(Timeout - TimeSpan.FromMilliseconds(1));
        Assert.Null(fired);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Same(invocation, fired);
    }

    [Fact]
    public void TimeOut_MarksARunningCall_Once()
    {
        var invocation = new V8Invocation("s", []);
        Assert.True(invocation.TryTimeOut());
        Assert.True(invocation.TimedOut);
        Assert.False(invocation.TryTimeOut());
        Assert.True(invocation.TimedOut);
    }

    [Fact]
    public void Deadline_RepeatsUntilTheCallFinishes()
    {
        // An interrupt from the timer's thread can be lost: the runner interrupts again at each repeat.
        var time = new FakeTimeProvider();
        var invocation = new V8Invocation("s", []);
        var fired = 0;
        invocation.MarkStarted(time);
        invocation.ArmDeadline(time, Timeout, _ => fired++);

        time.Advance(Timeout);
        Assert.Equal(1, fired);
        time.Advance(V8Invocation.DeadlineRepeat);
        time.Advance(V8Invocation.DeadlineRepeat);
        Assert.Equal(3, fired);

        invocation.StopClock(time);
        time.Advance(V8Invocation.DeadlineRepeat * 10);
        Assert.Equal(3, fired);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TimeOut_AfterAnOutcomeOrTheFinish_ChangesNothing(bool finished)
    {
        var invocation = new V8Invocation("s", []);
        if (finished)
        {
            Assert.True(invocation.TryMarkFinished());
        }
        else
        {
            invocation.Succeed([]);
        }

        Assert.False(invocation.TryTimeOut());
        Assert.False(invocation.TimedOut);
    }

    [Fact]
    public void Finish_HappensOnce()
    {
        var invocation = new V8Invocation("s", []);
        Assert.True(invocation.TryMarkFinished());
        Assert.False(invocation.TryMarkFinished());
        Assert.True(invocation.Finished);
    }

    [Fact]
    public void StopClock_MeasuresOnTheAgentsClock_DisarmsTheDeadline_AndCancelsHostCalls()
    {
        var time = new FakeTimeProvider();
        var invocation = new V8Invocation("s", []);
        var fired = false;
        invocation.MarkStarted(time);
        invocation.ArmDeadline(time, Timeout, _ => fired = true);
        time.Advance(TimeSpan.FromMilliseconds(3));

        Assert.Equal(TimeSpan.FromMilliseconds(3), invocation.StopClock(time));
        Assert.True(invocation.Abort.IsCancellationRequested);
        time.Advance(Timeout);
        Assert.False(fired);
    }

    [Fact]
    public void Reply_OfAResult_CarriesTheRuntimeInNanoseconds()
    {
        var invocation = new V8Invocation("s", []);
        invocation.Succeed([7]);
        var reply = invocation.Reply(TimeSpan.FromMicroseconds(12.5));
        Assert.NotNull(reply);
        Assert.Equal([7], reply.Data.ToArray());
        Assert.Equal(12_500, reply.RuntimeNanoseconds);
    }

    [Fact]
    public void Reply_WithoutAnOutcome_IsEmpty() =>
        Assert.Equal(0, new V8Invocation("s", []).Reply(TimeSpan.Zero)!.Data.Length);

    [Fact]
    public void Reply_OfAnError_IsTheFailureWithItsCode()
    {
        var invocation = new V8Invocation("s", []);
        invocation.Fail("boom");
        FunctionFailure.Is(invocation.Reply(TimeSpan.FromMilliseconds(1)), FunctionErrors.Exception, "boom");
        var oom = new V8Invocation("s", []);
        oom.Fail("exceeded its memory limit", FunctionErrors.OutOfMemory);
        FunctionFailure.Is(oom.Reply(TimeSpan.FromMilliseconds(1)), FunctionErrors.OutOfMemory);
    }

    [Theory]
    [InlineData(200, "function execution timed out after 200 ms")]
    [InlineData(5000, "function execution timed out after 5000 ms")]
    [InlineData(150.4, "function execution timed out after 150 ms")]
    public void TimeoutMessage_InWholeMilliseconds(double ms, string expected) =>
        Assert.Equal(expected, V8Invocation.TimeoutMessage(TimeSpan.FromMilliseconds(ms)));
}
