using Nex.Agent.Providers;
using Nex.Agent.Providers.V8;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>
/// <c>"function_context": "reuse"</c>: one context serves every call, so globals persist (as in Cloudflare
/// Workers and AWS Lambda); a call that throws, times out or runs out of memory leaves the next call a fresh one.
/// </summary>
public sealed class V8ReuseContextTests
{
    // A counter in a global, and the arguments each call got: they are the call's own even when the context is reused.
    private const string Counter =
        """
        (s, p) => {
          globalThis.n = (globalThis.n ?? 0) + 1;
          if (s === 'throw') throw new Error('boom ' + globalThis.n);
          if (s === 'loop') { for (;;) {} }
          if (s === 'hog') { const a = []; for (;;) { a.push({ i: a.length, s: 'x'.repeat(64) + a.length }); } }
          return { n: globalThis.n, s, p: String.fromCharCode(...p) };
        }
        """;

    private static readonly V8Options Reuse = new() { Mode = V8IsolationMode.ReusedContext };

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reuse_AGlobalPersistsBetweenCalls_EachCallGetsItsOwnArguments()
    {
        await using var fn = await V8Harness.StartAsync(Counter, Token, Reuse);
        for (var i = 1; i <= 20; i++)
        {
            Assert.Equal($$"""{"n":{{i}},"s":"s{{i}}","p":"p{{i}}"}""", await fn.CallAsync($"s{i}", $"p{i}", Token));
        }
    }

    [Fact]
    public async Task Fresh_IsTheDefault_AGlobalDoesNotPersist()
    {
        await using var fn = await V8Harness.StartAsync(Counter, Token);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("""{"n":1,"s":"x","p":""}""", await fn.CallAsync("x", "", Token));
        }
    }

    [Fact]
    public async Task Reuse_AThrowingCall_FailsAlone_AndTheNextCallStartsOnAFreshContext()
    {
        await using var fn = await V8Harness.StartAsync(Counter, Token, Reuse);
        Assert.Equal("""{"n":1,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
        Assert.Equal("""{"n":2,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("throw", default, Token), FunctionErrors.Exception, "Error: boom 3");
        Assert.Equal("""{"n":1,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
        Assert.Equal("""{"n":2,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
    }

    [Theory]
    [InlineData("loop", FunctionErrors.Timeout)]
    [InlineData("hog", FunctionErrors.OutOfMemory)]
    public async Task Reuse_ATimedOutOrOutOfMemoryCall_LeavesTheNextCallAFreshContext(string subject, int code)
    {
        var options = subject == "loop"
            ? Reuse with { Timeout = TimeSpan.FromMilliseconds(200) }
            : Reuse with { MaxMemoryBytes = 32L * 1024 * 1024, Timeout = TimeSpan.FromSeconds(20) };
        await using var fn = await V8Harness.StartAsync(Counter, Token, options);
        Assert.Equal("""{"n":1,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
        FunctionFailure.Is(await fn.Provider.ExecuteAsync(subject, default, Token), code);
        Assert.Equal("""{"n":1,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
        Assert.Equal("""{"n":2,"s":"a","p":""}""", await fn.CallAsync("a", "", Token));
    }

    [Fact]
    public async Task Reuse_ManyCallsInARow_NeverTripTheHeapLimit_WithTheirGarbage()
    {
        // Nothing disposes or trims between reused calls: V8's own collections must keep the garbage under the limit.
        await using var fn = await V8Harness.StartAsync(Counter, Token, Reuse with { MaxMemoryBytes = 16L * 1024 * 1024 });
        var payload = new string('x', 2048);
        for (var i = 1; i <= 3000; i++)
        {
            Assert.True(await fn.CallAsync("s", payload, Token) is { } reply && reply.StartsWith($$"""{"n":{{i}},""", StringComparison.Ordinal), $"call {i} failed: {fn.Output.Text(WorkloadStream.StandardError)}");
        }
    }

    [Fact]
    public async Task Reuse_ConcurrentCalls_AllAnswer_OnOneContext()
    {
        await using var fn = await V8Harness.StartAsync("(s, p) => { globalThis.n = (globalThis.n ?? 0) + 1; return globalThis.n; }", Token, Reuse);
        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => fn.CallAsync("x", "", Token)));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order(), replies.Order()!);
    }

    [Fact]
    public async Task Reuse_RunawayRecursion_IsARangeError_AndTheNextCallWorks()
    {
        await using var fn = await V8Harness.StartAsync("(s, p) => { if (s === 'deep') { const f = (n) => f(n + 1) + 1; return f(0); } return s; }", Token, Reuse);
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("deep", default, Token), FunctionErrors.Exception, "RangeError");
        Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", Token));
    }

    [Theory]
    [InlineData(null, false, 3)]
    [InlineData("", false, 3)]
    [InlineData("fresh", false, 3)]
    [InlineData("reuse", true, 1)]
    public void Options_FollowTheDeploysFunctionContext(string? value, bool reused, int lanes)
    {
        var options = V8Options.From(new AgentDeployRequest { FunctionContext = value! });
        Assert.Equal(reused ? V8IsolationMode.ReusedContext : V8IsolationMode.PooledContexts, options.Mode);
        Assert.Equal(lanes, options.EffectiveLanes);
    }
}
