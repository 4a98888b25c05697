using System.Text;
using Nex.Agent.Providers;
using Nex.Agent.Providers.V8;
using Xunit;
using Nex.Protocol;

namespace Nex.Agent.Tests.V8;

/// <summary>The V8 provider in this process: results, bytes, isolation, failures, limits (spec §5.10).</summary>
public sealed class V8FunctionProviderTests
{
    private const string Echo = "(s, p) => ({ triggered_on: s, payload: String.fromCharCode(...p) })";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Echo_ReturnsJsonOfTheSubjectAndPayload_WithRuntime()
    {
        await using var fn = await V8Harness.StartAsync(Echo, Token);
        var result = await fn.Provider.ExecuteAsync("hello", "hello world"u8.ToArray(), Token);
        Assert.NotNull(result);
        Assert.Equal("""{"triggered_on":"hello","payload":"hello world"}""", Encoding.UTF8.GetString(result.Data.Span));
        Assert.True(result.RuntimeNanoseconds > 0);
    }

    [Fact]
    public async Task ContextsArePreparedOnLowPriorityThreads_CallsRunAtTheAgentsOwn()
    {
        await using var fn = await V8Harness.StartAsync(Echo, Token);
        Assert.NotNull(await fn.Provider.ExecuteAsync("hello", "x"u8.ToArray(), Token));

        // Per thread: /proc/self/task/<tid>/comm is the .NET thread name, field 19 of its stat the nice value,
        // field 41 the scheduling policy (5 is SCHED_IDLE, 0 the normal one).
        var threads = Directory.GetDirectories("/proc/self/task")
            .Select(task => (Name: ReadOrEmpty(Path.Combine(task, "comm")).Trim(), Stat: ReadOrEmpty(Path.Combine(task, "stat"))))
            .Where(t => t.Stat.Length > 0)
            .Select(t => (t.Name, Fields: t.Stat[(t.Stat.LastIndexOf(')') + 2)..].Split(' ')))
            .Select(t => (t.Name, Nice: Field(t.Fields, 19), Policy: Field(t.Fields, 41)))
            .ToList();
        Assert.True(threads.Count(t => t.Name == "nex-v8-prep" && t.Nice == 19 && t.Policy == 5) >= new V8Options().Lanes, string.Join(", ", threads));
        Assert.DoesNotContain(threads, t => t.Name == "nex-v8" && (t.Nice == 19 || t.Policy != 0));

        static int Field(string[] afterName, int field) => int.Parse(afterName[field - 3], System.Globalization.CultureInfo.InvariantCulture);

        static string ReadOrEmpty(string path)
        {
            try
            {
                return File.ReadAllText(path);
            }
            catch (IOException)
            {
                return ""; // the thread ended meanwhile
            }
        }
    }

    [Fact]
    public async Task ReturnValues_Uint8ArrayRaw_StringQuoted_PromiseAwaited_UndefinedEmpty()
    {
        await using var fn = await V8Harness.StartAsync(
            """
            (s, p) => {
              switch (s) {
                case 'raw': return new Uint8Array([0, 1, 0x80, 0xff]);
                case 'string': return 'hi "there"';
                case 'promise': return (async () => { await null; return { ok: true }; })();
                case 'number': return 42;
                default: return undefined;
              }
            }
            """,
            Token);
        Assert.Equal(new byte[] { 0, 1, 0x80, 0xff }, (await fn.Provider.ExecuteAsync("raw", default, Token))!.Data.ToArray());
        Assert.Equal("\"hi \\\"there\\\"\"", await fn.CallAsync("string", "", Token));
        Assert.Equal("""{"ok":true}""", await fn.CallAsync("promise", "", Token));
        Assert.Equal("42", await fn.CallAsync("number", "", Token));
        Assert.Equal("", await fn.CallAsync("other", "", Token));
    }

    [Fact]
    public async Task BytesAbove0x7F_RoundTripExactly()
    {
        await using var fn = await V8Harness.StartAsync("(s, p) => p", Token);
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        Assert.Equal(all, (await fn.Provider.ExecuteAsync("x", all, Token))!.Data.ToArray());
    }

    [Fact]
    public async Task Isolation_AGlobalSetByOneCall_IsInvisibleToTheNext()
    {
        await using var fn = await V8Harness.StartAsync(
            "(s, p) => { const seen = typeof globalThis.leak; const clean = [].polluted === undefined; globalThis.leak = 1; Array.prototype.polluted = true; return [seen, clean]; }",
            Token,
            new V8Options { PoolSize = 1 });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("""["undefined",true]""", await fn.CallAsync("x", "", Token));
        }
    }

    [Fact]
    public async Task Exception_FailsAtOnceWith500_TextOnStderr_AndTheNextCallWorks()
    {
        await using var fn = await V8Harness.StartAsync("(s, p) => { if (s === 'bad') throw new Error('boom ' + s); return s; }", Token);
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("bad", default, Token), FunctionErrors.Exception, "Error: boom bad");
        await fn.Output.WaitForAsync(WorkloadStream.StandardError, "Error: boom bad", TimeSpan.FromSeconds(5));
        Assert.Equal("\"good\"", await fn.CallAsync("good", "", Token));
    }

    [Fact]
    public async Task RejectedPromise_FailsAtOnceWith500_TextOnStderr()
    {
        await using var fn = await V8Harness.StartAsync("async (s, p) => { await null; throw new TypeError('rejected ' + s); }", Token);
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("x", default, Token), FunctionErrors.Exception, "TypeError: rejected x");
        await fn.Output.WaitForAsync(WorkloadStream.StandardError, "TypeError: rejected x", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task InfiniteLoop_IsCutAtTheTimeout_AndLaterCallsWork()
    {
        await using var fn = await V8Harness.StartAsync(
            "(s, p) => { if (s === 'loop') { for (;;) {} } return s; }",
            Token,
            new V8Options { Timeout = TimeSpan.FromMilliseconds(200) });
        var started = DateTime.UtcNow;
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("loop", default, Token), FunctionErrors.Timeout, "timed out after 200 ms");
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(3));
        await fn.Output.WaitForAsync(WorkloadStream.StandardError, "timed out after 200 ms", TimeSpan.FromSeconds(5));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", Token));
        }

        // A second loop is cut as well; a never-settling promise times out too.
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("loop", default, Token), FunctionErrors.Timeout);
        Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", Token));
    }

    [Fact]
    public async Task PendingPromise_TimesOut()
    {
        await using var fn = await V8Harness.StartAsync(
            "(s, p) => s === 'hang' ? new Promise(() => {}) : s",
            Token,
            new V8Options { Timeout = TimeSpan.FromMilliseconds(150) });
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("hang", default, Token), FunctionErrors.Timeout);
        Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", Token));
    }

    [Fact]
    public async Task Validation_SourceTooLarge_ExactMessage()
    {
        var source = "(s, p) => s" + new string(' ', 100);
        var ex = await Assert.ThrowsAsync<V8FunctionException>(() => V8Harness.StartAsync(source, Token, new V8Options { MaxSourceBytes = 50 }));
        Assert.Equal($"source file ({source.Length} bytes) exceeds maximum of 50 bytes", ex.Message);

        var big = "(s, p) => s" + new string(' ', 12_289 - 11);
        ex = await Assert.ThrowsAsync<V8FunctionException>(() => V8Harness.StartAsync(big, Token));
        Assert.Equal("source file (12289 bytes) exceeds maximum of 12288 bytes", ex.Message);
    }

    [Fact]
    public async Task Validation_SyntaxError_AndNonFunction_Fail()
    {
        var ex = await Assert.ThrowsAsync<V8FunctionException>(() => V8Harness.StartAsync("(s, p) => {", Token));
        Assert.Contains("SyntaxError", ex.Message, StringComparison.Ordinal);
        ex = await Assert.ThrowsAsync<V8FunctionException>(() => V8Harness.StartAsync("42", Token));
        Assert.Contains("function", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MemoryLimit_FailsThatCallOnly()
    {
        await using var fn = await V8Harness.StartAsync(
            "(s, p) => { if (s === 'hog') { const a = []; for (;;) { a.push({ i: a.length, s: 'x'.repeat(64) + a.length }); } } return s; }",
            Token,
            new V8Options { MaxMemoryBytes = 32L * 1024 * 1024, Timeout = TimeSpan.FromSeconds(20) });
        FunctionFailure.Is(await fn.Provider.ExecuteAsync("hog", default, Token), FunctionErrors.OutOfMemory);
        // The error reaches the workload's stderr through the output pump, just after the call returns.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!fn.Output.Text(WorkloadStream.StandardError).Contains("memory", StringComparison.OrdinalIgnoreCase) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, Token);
        }

        Assert.Contains("memory", fn.Output.Text(WorkloadStream.StandardError), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", Token));
        Assert.Equal("\"ok\"", await fn.CallAsync("ok", "", Token));
    }

    [Fact]
    public async Task ManyCallsInARow_NeverTripTheHeapLimit_WithGarbageFromUsedContexts()
    {
        // Each call uses a fresh context; the garbage of used ones must not add up to the limit.
        await using var fn = await V8Harness.StartAsync("(s, p) => p", Token, new V8Options { MaxMemoryBytes = 16L * 1024 * 1024 });
        for (var i = 0; i < 1500; i++)
        {
            var payload = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(await fn.CallAsync("s", payload, Token) is { } reply && reply.Length > 0, $"call {i} failed: {fn.Output.Text(WorkloadStream.StandardError)}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UsedContexts_AreFreed_NotKeptAliveByTheirHandles(bool v8Only)
    {
        // One ClearScript handle left to the .NET finalizer keeps its whole dead context live in V8's heap
        // (about 180 KiB each), and every collection has to mark it. Every handle the host gets (the payload
        // and reply Uint8Arrays and ClearScript's ArrayBuffer handles behind them) is released at once, so
        // even a V8 collection alone (v8Only: no .NET finalizers first, the fallback kept out) frees them.
        var output = System.Threading.Channels.Channel.CreateUnbounded<(WorkloadStream Stream, string Text)>();
        using var host = new V8EngineHost(new V8Options(), null, output.Writer, TimeProvider.System);
        await host.InitializeAsync("(s, p) => s === 'json' ? ({ s, n: p.length }) : p", Token);
        host.Warm();
        for (var i = 0; i < 300; i++)
        {
            Assert.NotNull(await host.ExecuteAsync(i % 2 == 0 ? "json" : "bytes", new byte[] { 1, 2, 3 }, here: false, Token));
        }

        var used = await host.CollectAndMeasureAsync(v8Only);
        Assert.True(used < 8UL * 1024 * 1024, $"{used / 1024} KiB of V8 heap still in use after 300 calls and a collection (V8 only: {v8Only})");
        await host.StopAsync();
    }

    [Fact]
    public async Task Console_GoesToTheWorkloadStreams()
    {
        await using var fn = await V8Harness.StartAsync("(s, p) => { console.log('out', s, { a: 1 }); console.error('err', 2); return null; }", Token);
        Assert.Equal("null", await fn.CallAsync("subj", "", Token));
        await fn.Output.WaitForAsync(WorkloadStream.StandardOutput, "out subj {\"a\":1}\n", TimeSpan.FromSeconds(5));
        await fn.Output.WaitForAsync(WorkloadStream.StandardError, "err 2\n", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Calls_AreServedInArrivalOrder()
    {
        await using var fn = await V8Harness.StartAsync("async (s, p) => { await null; return s; }", Token);
        var calls = Enumerable.Range(0, 20).Select(i => fn.CallAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture), "", Token)).ToArray();
        var results = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"\"{i}\""), results);
    }
}
