using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using Nex.Agent.Providers;
using Xunit;
using Nex.Protocol;

namespace Nex.Agent.Tests.Wasm;

/// <summary>The WASM time limit and the guest's clocks run on the agent's <see cref="TimeProvider"/>: a fake clock decides them, with no real wait.</summary>
public sealed class WasmClockTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ALoopingCall_IsCutWhenTheClockPassesTheLimit()
    {
        var clock = new TestClock(Start);
        await using var function = await WasmFunction.DeployAsync(WasmModules.LoopOnInput, timeoutMs: 60_000, time: clock);

        // An execution runs on its caller's thread (the agent's trigger loop); here, a thread-pool thread of its own.
        var call = Task.Run(() => function.Provider.ExecuteAsync("s", "spin"u8.ToArray(), Token), Token);
        await clock.TimerCreated.WaitAsync(TimeSpan.FromSeconds(30), Token);
        clock.Advance(TimeSpan.FromMinutes(1));

        // A minute of the limit has passed on the agent's clock, not on the wall: the call ends at once.
        FunctionFailure.Is(await call.WaitAsync(TimeSpan.FromSeconds(30), Token), FunctionErrors.Timeout, "function timed out after 60000 ms");
        Assert.Contains(function.Output.Chunks, c => c.Stream == WorkloadStream.StandardError && c.Text == "function timed out after 60000 ms\n");
        Assert.Equal("ok", System.Text.Encoding.UTF8.GetString((await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token))!.Data.Span));
    }

    [Fact]
    public async Task TimeShortOfTheLimit_DoesNotCutTheCall_ACancelDoes()
    {
        var clock = new TestClock(Start);
        await using var function = await WasmFunction.DeployAsync(WasmModules.LoopOnInput, timeoutMs: 60_000, time: clock);
        using var trigger = CancellationTokenSource.CreateLinkedTokenSource(Token);

        var call = Task.Run(() => function.Provider.ExecuteAsync("s", "spin"u8.ToArray(), trigger.Token), Token);
        await clock.TimerCreated.WaitAsync(TimeSpan.FromSeconds(30), Token);
        clock.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromMilliseconds(1));
        await trigger.CancelAsync();

        FunctionFailure.Is(await call.WaitAsync(TimeSpan.FromSeconds(30), Token), FunctionErrors.Exception, "function execution was cancelled");
        var failure = Assert.Single(function.Output.Chunks);
        Assert.Equal("function execution was cancelled\n", failure.Text);
    }

    [Fact]
    public async Task TheGuestsClocks_AndTheReportedRuntime_AreTheAgentsClock()
    {
        var clock = new TestClock(Start);
        await using var function = await WasmFunction.DeployAsync(ReadClocks, time: clock);

        var first = await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token);
        clock.Advance(TimeSpan.FromSeconds(3));
        var second = await function.Provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token);

        Assert.Equal((Start - DateTimeOffset.UnixEpoch).Ticks * 100, BinaryPrimitives.ReadInt64LittleEndian(first!.Data.Span));
        Assert.Equal((Start.AddSeconds(3) - DateTimeOffset.UnixEpoch).Ticks * 100, BinaryPrimitives.ReadInt64LittleEndian(second!.Data.Span));
        var monotonic = BinaryPrimitives.ReadInt64LittleEndian(second.Data.Span[8..]) - BinaryPrimitives.ReadInt64LittleEndian(first.Data.Span[8..]);
        Assert.Equal(3_000_000_000, monotonic);
        Assert.Equal(0L, first.RuntimeNanoseconds); // the clock did not move during the call
    }

    // Writes clock_time_get(realtime) then clock_time_get(monotonic), 8 bytes each, little-endian, to stdout.
    private const string ReadClocks = """
        (module
          (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "_start")
            (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 64)))
            (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 72)))
            (i32.store (i32.const 0) (i32.const 64))
            (i32.store (i32.const 4) (i32.const 16))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
        """;

    /// <summary>
    /// A fake clock that says when a timer is made (the call's time limit starts then), with timestamps counted
    /// from its start like the system's (since boot): a fake timestamp in ticks since year 1 is more nanoseconds
    /// than a long holds.
    /// </summary>
    private sealed class TestClock(DateTimeOffset start) : TimeProvider
    {
        private readonly FakeTimeProvider _fake = new(start);
        private readonly long _origin = start.Ticks;
        private readonly TaskCompletionSource _timerCreated = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task TimerCreated => _timerCreated.Task;

        public override DateTimeOffset GetUtcNow() => _fake.GetUtcNow();

        public override long GetTimestamp() => _fake.GetTimestamp() - _origin;

        public override long TimestampFrequency => _fake.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = _fake.CreateTimer(callback, state, dueTime, period);
            _timerCreated.TrySetResult();
            return timer;
        }

        public void Advance(TimeSpan delta) => _fake.Advance(delta);
    }
}
