using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Agent.Providers.Wasm;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Agent.Tests.Wasm;

/// <summary>The WASM provider in this process, with test functions written in WAT.</summary>
public sealed class WasmFunctionProviderTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Echo_ReturnsStdinThenTheTriggerSubject()
    {
        await using var function = await WasmFunction.DeployAsync(WasmModules.Echo);
        var result = await function.Provider.ExecuteAsync("test.trigger", "Hello world"u8.ToArray(), Token);
        Assert.NotNull(result);
        Assert.Equal("Hello worldtest.trigger", Encoding.UTF8.GetString(result.Data.Span));
        Assert.True(result.RuntimeNanoseconds > 0);
    }

    [Fact]
    public async Task AllStdoutWrites_AreConcatenated_AndStderrGoesToTheLog()
    {
        await using var function = await WasmFunction.DeployAsync(WasmModules.ManyWrites);
        var result = await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token);
        Assert.Equal("onetwothree", Encoding.UTF8.GetString(result!.Data.Span));
        Assert.Equal([(WorkloadStream.StandardError, "oops")], function.Output.Chunks);
    }

    [Fact]
    public async Task Environment_IsTheRequestMap_KeysAsGiven()
    {
        var environment = new Dictionary<string, string> { ["FOO"] = "bar", ["lower"] = "x=y" };
        await using var function = await WasmFunction.DeployAsync(WasmModules.Environment, environment: environment);
        var result = await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token);
        var entries = Encoding.UTF8.GetString(result!.Data.Span).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["FOO=bar", "lower=x=y"], entries.Order());
    }

    [Fact]
    public async Task NonZeroExit_AndTrap_FailAtOnceWith500_EmptyStdoutGivesNoReply()
    {
        await using (var function = await WasmFunction.DeployAsync(WasmModules.ExitWithStatus))
        {
            Assert.Equal("0fine", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", "0fine"u8.ToArray(), Token))!.Data.Span));
            FunctionFailure.Is(await function.Provider.ExecuteAsync("s", "3bad"u8.ToArray(), Token), FunctionErrors.Exception, "exited with status 3");
            Assert.Contains(function.Output.Chunks, c => c.Stream == WorkloadStream.StandardError && c.Text.Contains("exited with status 3", StringComparison.Ordinal));
        }

        await using (var function = await WasmFunction.DeployAsync(WasmModules.Trap))
        {
            var trapped = await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token);
            FunctionFailure.Is(trapped, FunctionErrors.Exception, "function trapped");

            // The cause, on one line; the backtrace goes to the workload's log.
            Assert.Equal("function trapped: wasm trap: wasm `unreachable` instruction executed", trapped!.Error);
            Assert.Contains(function.Output.Chunks, c => c.Text.Contains("wasm backtrace", StringComparison.Ordinal));
            Assert.Contains(function.Output.Chunks, c => c.Text.Contains("function trapped", StringComparison.Ordinal));
        }

        await using (var function = await WasmFunction.DeployAsync(WasmModules.Silent))
        {
            Assert.Null(await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token));
            Assert.Empty(function.Output.Chunks);
        }
    }

    [Fact]
    public async Task InfiniteLoop_IsCutAtTheTimeLimit_AndLaterCallsWork()
    {
        await using var function = await WasmFunction.DeployAsync(WasmModules.LoopOnInput, timeoutMs: 200);
        var clock = Stopwatch.StartNew();
        FunctionFailure.Is(await function.Provider.ExecuteAsync("s", "spin"u8.ToArray(), Token), FunctionErrors.Timeout, "function timed out after 200 ms");
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(3));
        Assert.Contains(function.Output.Chunks, c => c.Text.Contains("function timed out after 200 ms", StringComparison.Ordinal));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("ok", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token))!.Data.Span));
        }

        FunctionFailure.Is(await function.Provider.ExecuteAsync("s", "spin again"u8.ToArray(), Token), FunctionErrors.Timeout);
        Assert.Equal("ok", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token))!.Data.Span));
    }

    [Fact]
    public async Task RunawayRecursion_OnAThreadPoolThread_TrapsAsAStackOverflow_AndLaterCallsWork()
    {
        // Executions run on the trigger's thread, a thread-pool thread whose stack we do not size:
        // WebAssembly's stack limit must trap well before that thread's stack ends.
        await using var function = await WasmFunction.DeployAsync(WasmModules.RecurseOnInput);
        var result = await Task.Run(() => function.Provider.ExecuteAsync("s", "deep"u8.ToArray(), Token), Token);
        FunctionFailure.Is(result, FunctionErrors.Exception);
        Assert.Equal("function trapped: wasm trap: call stack exhausted", result!.Error);
        Assert.Equal("ok", Encoding.UTF8.GetString((await Task.Run(() => function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token), Token))!.Data.Span));
    }

    [Fact]
    public async Task ConcurrentCalls_RunOneAtATime_EachGetsItsOwnResult()
    {
        // A call that spins until its time limit holds the engine; the calls behind it wait their turn.
        await using var function = await WasmFunction.DeployAsync(WasmModules.ExitWithStatus, timeoutMs: 2000);
        var calls = Enumerable.Range(0, 16).Select(i => Task.Run(() => function.Provider.ExecuteAsync("s", Encoding.UTF8.GetBytes($"0 call {i}"), Token), Token)).ToArray();
        var results = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"0 call {i}"), results.Select(r => Encoding.UTF8.GetString(r!.Data.Span)));
    }

    [Fact]
    public async Task AfterUndeploy_ACall_IsRefused_AndUndeployWaitsForTheRunningOne()
    {
        await using var function = await WasmFunction.DeployAsync(WasmModules.LoopOnInput, timeoutMs: 30_000);
        var spinning = Task.Run(() => function.Provider.ExecuteAsync("s", "spin"u8.ToArray(), Token), Token);
        await WaitUntilRunningAsync(function.Provider);

        // The undeploy cuts the running call and returns once it has ended.
        await function.Provider.UndeployAsync(Token);
        Assert.False(function.Provider.IsExecuting);
        FunctionFailure.Is(await spinning, FunctionErrors.Exception, "function execution was cancelled");
        var refused = await Assert.ThrowsAsync<ObjectDisposedException>(() => function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token));
        Assert.Contains("the function was undeployed", refused.Message, StringComparison.Ordinal);
    }

    private static async Task WaitUntilRunningAsync(WasmFunctionProvider provider)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!provider.IsExecuting)
        {
            Assert.True(DateTime.UtcNow < deadline, "the execution never started");
            await Task.Delay(5, Token);
        }
    }

    [Fact]
    public async Task MemoryLimit_StopsGrowth()
    {
        // 1 MiB = 16 pages; the module starts with 1.
        await using var function = await WasmFunction.DeployAsync(WasmModules.Grow, maxMemoryBytes: 1024 * 1024);
        Assert.Equal("granted", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", "15"u8.ToArray(), Token))!.Data.Span));
        Assert.Equal("denied", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", "16"u8.ToArray(), Token))!.Data.Span));

        // Each call is a fresh instance: the earlier growth is gone.
        Assert.Equal("granted", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", "15"u8.ToArray(), Token))!.Data.Span));
    }

    [Fact]
    public async Task OutOfMemory_FailsAtOnceWith507_AndTheMemoryLimitAsCause()
    {
        // 1 MiB = 16 pages; the module starts with 1.
        await using (var function = await WasmFunction.DeployAsync(WasmModules.GrowOrAbort, maxMemoryBytes: 1024 * 1024))
        {
            Assert.Equal("grown", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", "15"u8.ToArray(), Token))!.Data.Span));
            FunctionFailure.Is(await function.Provider.ExecuteAsync("s", "16"u8.ToArray(), Token), FunctionErrors.OutOfMemory, "function exceeded its memory limit (1048576 bytes): function trapped");
            Assert.Contains(function.Output.Chunks, c => c.Text.Contains("exceeded its memory limit", StringComparison.Ordinal));

            // The next call is a fresh instance with its memory back.
            Assert.Equal("grown", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", "15"u8.ToArray(), Token))!.Data.Span));
        }

        // Refused one big growth far below the limit: the guest's own "out of memory" and exit status.
        await using (var function = await WasmFunction.DeployAsync(WasmModules.BigAllocationOrExit, maxMemoryBytes: 1024 * 1024))
        {
            FunctionFailure.Is(await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token), FunctionErrors.OutOfMemory, "function exceeded its memory limit (1048576 bytes): function exited with status 1");
        }

        // Initial memory above the limit: refused at deploy, with the limit.
        var big = await Assert.ThrowsAsync<InvalidOperationException>(() => WasmFunction.DeployAsync(WasmModules.BigInitialMemory, maxMemoryBytes: 1024 * 1024));
        Assert.Equal("the module's initial memory is larger than its memory limit (1048576 bytes)", big.Message);

        // A trap that has nothing to do with memory stays a 500.
        await using (var function = await WasmFunction.DeployAsync(WasmModules.Trap, maxMemoryBytes: 1024 * 1024))
        {
            var trapped = await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token);
            FunctionFailure.Is(trapped, FunctionErrors.Exception, "function trapped");

            // The cause, on one line; the backtrace goes to the workload's log.
            Assert.Equal("function trapped: wasm trap: wasm `unreachable` instruction executed", trapped!.Error);
            Assert.Contains(function.Output.Chunks, c => c.Text.Contains("wasm backtrace", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task BadModules_FailValidation_WithTheReason()
    {
        var garbage = await Assert.ThrowsAnyAsync<Exception>(() => WasmFunction.DeployAsync("\0asm\u0001\0\0\0garbage"));
        Assert.False(string.IsNullOrWhiteSpace(garbage.Message));

        var foreign = await Assert.ThrowsAsync<InvalidOperationException>(() => WasmFunction.DeployAsync("""(module (import "env" "f" (func)) (func (export "_start")))"""));
        Assert.Equal("unsupported import env.f (only wasi_snapshot_preview1 functions and nex.host_call/nex.host_result are provided)", foreign.Message);

        var reactor = await Assert.ThrowsAsync<InvalidOperationException>(() => WasmFunction.DeployAsync("(module (func (export \"run\")))"));
        Assert.Equal("the module is not a WASI command: it exports no _start function", reactor.Message);
    }

    [Fact]
    public async Task NotWasmAtAll_FailsWithOneLineThatSaysWhatToUse()
    {
        // JavaScript deployed with --type wasm: Wasmtime's WAT parser answers over several lines.
        var js = await Assert.ThrowsAsync<InvalidOperationException>(() => WasmFunction.DeployAsync("export default function run(subject, payload) {\n  return payload;\n}\n"));
        Assert.DoesNotContain('\n', js.Message);
        Assert.StartsWith("the artifact is not a WebAssembly module (no \\0asm header) nor WAT text (", js.Message, StringComparison.Ordinal);
        Assert.EndsWith("run JavaScript with --type v8 and executables with --type native", js.Message, StringComparison.Ordinal);

        var garbage = await Assert.ThrowsAsync<InvalidOperationException>(() => WasmFunction.DeployAsync("\0asm\u0001\0\0\0garbage"));
        Assert.DoesNotContain('\n', garbage.Message);
        Assert.StartsWith("invalid WebAssembly module: ", garbage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownPreview1Imports_ReturnEnosys()
    {
        const string module = """
            (module
              (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "_start")
                (i32.store8 (i32.const 100) (i32.add (i32.const 48)
                  (i32.rem_u (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)) (i32.const 10))))
                (i32.store (i32.const 0) (i32.const 100))
                (i32.store (i32.const 4) (i32.const 1))
                (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
            """;
        await using var function = await WasmFunction.DeployAsync(module);

        // ENOSYS = 52: 52 % 10 = 2.
        Assert.Equal("2", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token))!.Data.Span));
    }

    [Fact]
    public async Task BuiltEchoExample_Behaves()
    {
        var path = Path.Combine(Examples.RepositoryRoot, "examples", "wasm", "echo", "build", "echo.wasm");
        if (!File.Exists(path))
        {
            Assert.Skip($"{path} is not built (run examples/build.sh)");
        }

        await using var function = await WasmFunction.DeployAsync(await File.ReadAllBytesAsync(path, Token));
        Assert.Equal("hello worldhello", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("hello", "hello world"u8.ToArray(), Token))!.Data.Span));
        Assert.Equal("Hello worldtest.trigger", Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("test.trigger", "Hello world"u8.ToArray(), Token))!.Data.Span));

        // Larger than libc's stdio buffer: several reads and writes.
        var big = Enumerable.Range(0, 100_000).Select(i => (byte)('a' + (i % 26))).ToArray();
        var result = await function.Provider.ExecuteAsync("s", big, Token);
        Assert.Equal([.. big, (byte)'s'], result!.Data.ToArray());
    }

    [Fact]
    public async Task PerCallCost_IsMeasured()
    {
        await using var function = await WasmFunction.DeployAsync(WasmModules.Echo);
        var payload = "Hello world"u8.ToArray();
        for (var i = 0; i < 200; i++)
        {
            await function.Provider.ExecuteAsync("s", payload, Token);
        }

        const int runs = 2000;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < runs; i++)
        {
            await function.Provider.ExecuteAsync("s", payload, Token);
        }

        var perCall = clock.Elapsed / runs;
        TestContext.Current.TestOutputHelper?.WriteLine($"WASM (WAT echo) ExecuteAsync: {perCall.TotalMicroseconds:0} µs per call");
        Assert.True(perCall < TimeSpan.FromMilliseconds(5), $"{perCall.TotalMicroseconds:0} µs per call");
    }
}

/// <summary>A deployed WASM provider over a temp artifact, with its output recorded.</summary>
internal sealed class WasmFunction : IAsyncDisposable
{
    private readonly TempDirectory _dir;

    private WasmFunction(TempDirectory dir, WasmFunctionProvider provider, RecordingOutput output)
    {
        _dir = dir;
        Provider = provider;
        Output = output;
    }

    public WasmFunctionProvider Provider { get; }

    public RecordingOutput Output { get; }

    public static Task<WasmFunction> DeployAsync(string wat, IReadOnlyDictionary<string, string>? environment = null, int timeoutMs = 0, long maxMemoryBytes = 0, INatsConnection? connection = null, string? agentId = null, TimeProvider? time = null) =>
        DeployAsync(Encoding.UTF8.GetBytes(wat), environment, timeoutMs, maxMemoryBytes, connection, agentId, time);

    public static async Task<WasmFunction> DeployAsync(byte[] module, IReadOnlyDictionary<string, string>? environment = null, int timeoutMs = 0, long maxMemoryBytes = 0, INatsConnection? connection = null, string? agentId = null, TimeProvider? time = null)
    {
        var dir = new TempDirectory("nex-wasm-test-");
        var artifact = dir.File("function.wasm");
        await File.WriteAllBytesAsync(artifact, module);
        var output = new RecordingOutput();
        var context = new WorkloadContext
        {
            AgentId = agentId ?? "wasmtest",
            Request = FakeNode.NativeRequest("fn", environment) with
            {
                WorkloadType = WorkloadTypes.Wasm,
                TriggerSubjects = ["fn.>"],
                FunctionTimeoutMs = timeoutMs,
                MaxMemoryBytes = maxMemoryBytes,
            },
            ArtifactPath = artifact,
            Output = output,
            Connection = connection ?? new NatsConnection(),
            StopGrace = TimeSpan.FromSeconds(1),
            Loggers = NullLoggerFactory.Instance,
            Time = time ?? TimeProvider.System,
        };
        var provider = new WasmFunctionProvider(context);
        try
        {
            await provider.ValidateAsync(CancellationToken.None);
            await provider.DeployAsync(CancellationToken.None);
        }
        catch
        {
            await provider.DisposeAsync();
            dir.Dispose();
            throw;
        }

        return new WasmFunction(dir, provider, output);
    }

    public async ValueTask DisposeAsync()
    {
        await Provider.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>Records workload output.</summary>
internal sealed class RecordingOutput : IWorkloadOutput
{
    private readonly List<(WorkloadStream Stream, string Text)> _chunks = [];

    public IReadOnlyList<(WorkloadStream Stream, string Text)> Chunks
    {
        get
        {
            lock (_chunks)
            {
                return [.. _chunks];
            }
        }
    }

    public ValueTask WriteAsync(WorkloadStream stream, string text, CancellationToken cancellationToken)
    {
        lock (_chunks)
        {
            _chunks.Add((stream, text));
        }

        return ValueTask.CompletedTask;
    }
}
