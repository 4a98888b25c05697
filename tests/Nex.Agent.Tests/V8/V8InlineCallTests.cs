using Nex.Agent.Providers;
using Nex.Agent.Providers.V8;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>
/// A fresh-context call runs on the caller's (trigger's) thread when nothing else is in flight, its lane is idle with a
/// context ready, and the function's last call was quicker than <see cref="V8Options.InlineBelow"/>; otherwise it is
/// handed to its lane's owner thread. Which one ran it shows in the task: run here, a synchronous function's call has
/// finished when <c>ExecuteAsync</c> returns; handed over, a call that spins for a second cannot have.
/// </summary>
public sealed class V8InlineCallTests
{
    private const string Function =
        """
        (s, p) => {
          if (s === 'spin') { const end = Date.now() + Number(String.fromCharCode(...p)); while (Date.now() < end) {} return 'spun'; }
          if (s === 'deep') {
            const f = (n) => { try { return f(n + 1); } catch { console.log('stopped at ' + n); return n; } };
            return f(0) > 1000;
          }
          return s;
        }
        """;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AQuickFunction_RunsOnTheCallersThread_OnceItsLastCallWasQuick()
    {
        await using var fn = await V8Harness.StartAsync(Function, Token, new V8Options { InlineBelow = TimeSpan.FromHours(1) });

        // Nothing is known of the function yet: its first call goes through a lane.
        Assert.Equal("\"a\"", await fn.CallAsync("a", "", Token));

        await SettledAsync(fn);
        var call = fn.Provider.ExecuteAsync("b", default, Token);
        Assert.True(call.IsCompletedSuccessfully, "a quick function's call on an idle agent runs on the caller's thread");
        Assert.Equal("\"b\""u8.ToArray(), (await call)!.Data.ToArray());

        // A fresh context still: each call is the function's own (isolation is unchanged).
        await SettledAsync(fn);
        Assert.True(fn.Provider.ExecuteAsync("c", default, Token).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AfterASlowCall_TheNextIsHandedToItsLane_AndAQuickOneBringsTheCallerBack()
    {
        await using var fn = await V8Harness.StartAsync(Function, Token, new V8Options { InlineBelow = TimeSpan.FromMilliseconds(200) });
        Assert.Equal("\"a\"", await fn.CallAsync("a", "", Token));
        await SettledAsync(fn);
        Assert.Equal("\"spun\"", await fn.CallAsync("spin", "400", Token)); // quick before: ran here, and took 400 ms

        await SettledAsync(fn);
        var slow = fn.Provider.ExecuteAsync("spin", "1000"u8.ToArray(), Token);
        Assert.False(slow.IsCompleted, "after a slow call, the next one must not hold the caller's thread");
        Assert.Equal("\"spun\""u8.ToArray(), (await slow)!.Data.ToArray());

        // A quick call (through a lane, the last one having been slow) makes the next one eligible again.
        Assert.Equal("\"q\"", await fn.CallAsync("q", "", Token));
        await SettledAsync(fn);
        Assert.True(fn.Provider.ExecuteAsync("r", default, Token).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task ACallInFlight_KeepsTheNextOneOffTheCallersThread()
    {
        await using var fn = await V8Harness.StartAsync(Function, Token, new V8Options { InlineBelow = TimeSpan.FromHours(1) });
        Assert.Equal("\"a\"", await fn.CallAsync("a", "", Token));
        await SettledAsync(fn);

        // In the agent, a call run on the trigger's thread holds the read loop: while one is in flight, the next must
        // go to a lane even though the function is quick, or the calls behind it would wait.
        var first = Task.Run(() => fn.Provider.ExecuteAsync("spin", "2000"u8.ToArray(), Token), Token);
        await WaitUntilAsync(() => fn.Provider.PendingCalls > 0, "the first call to start");
        var second = fn.Provider.ExecuteAsync("spin", "300"u8.ToArray(), Token);
        Assert.False(second.IsCompleted, "a call arriving while another is in flight ran on the caller's thread");
        Assert.Equal("\"spun\""u8.ToArray(), (await second)!.Data.ToArray());
        Assert.Equal("\"spun\""u8.ToArray(), (await first)!.Data.ToArray());
    }

    [Fact]
    public async Task RunawayRecursion_OnTheCallersThread_StopsAtJavaScriptsStackLimit_WithRoomForAHostCallback()
    {
        await using var fn = await V8Harness.StartAsync(Function, Token, new V8Options { InlineBelow = TimeSpan.FromHours(1) });
        Assert.Equal("\"a\"", await fn.CallAsync("a", "", Token));
        await SettledAsync(fn);

        // A thread-pool thread, as the agent's trigger thread is; the callback (console.log) runs at the limit's depth.
        var deep = await Task.Run(() =>
        {
            var call = fn.Provider.ExecuteAsync("deep", default, Token);
            Assert.True(call.IsCompletedSuccessfully, "ran on the caller's thread");
            return call;
        }, Token);
        Assert.Equal("true"u8.ToArray(), deep!.Data.ToArray());
        await fn.Output.WaitForAsync(WorkloadStream.StandardOutput, "stopped at ", TimeSpan.FromSeconds(10));
    }

    private static Task SettledAsync(V8Harness fn) => WaitUntilAsync(() => fn.Provider.IsSettled, "the lanes to settle");

    // The lanes' state has no event of its own; it settles within a few preparations.
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            try
            {
                await Task.Delay(5, timeout.Token);
            }
            catch (OperationCanceledException) when (!Token.IsCancellationRequested)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
        }
    }
}
