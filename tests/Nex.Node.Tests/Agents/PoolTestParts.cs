using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using Nex.Node.Agents;
using Nex.Node.InternalNats;
using Nex.Node.Machines;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Node.Tests.Agents;

/// <summary>A fake clock that also says when a timer is created, and for how long.</summary>
internal sealed class TimerRecordingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    public TimerRecordingTimeProvider()
        : this(DateTimeOffset.UtcNow)
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _timers.Writer.TryWrite(dueTime);
        }

        return timer;
    }

    /// <summary>The next timer's due time, skipping the pool's ping timer (it runs beside everything else).</summary>
    public async Task<TimeSpan> NextTimerAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var due = await _timers.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
            if (due != AgentPool.PingInterval)
            {
                return due;
            }
        }
    }
}

/// <summary>The pool's listener, for pools whose agents send nothing the tests look at.</summary>
internal sealed class NoListener : IAgentListener
{
    public ValueTask OnAgentEventAsync(string agentId, CloudEvent cloudEvent) => ValueTask.CompletedTask;

    public ValueTask OnAgentLogAsync(string agentId, AgentLogEntry entry) => ValueTask.CompletedTask;

    public ValueTask OnHostServiceCallAsync(string agentId, NatsMsg<byte[]> msg) => ValueTask.CompletedTask;
}

/// <summary>A logger whose lines a test can await (the pool says "is warm", "could not start" …).</summary>
internal sealed class ChannelLogger<T> : ILogger<T>
{
    public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Writer.TryWrite(formatter(state, exception));

    /// <summary>The next line that contains <paramref name="text"/> (earlier lines are dropped).</summary>
    public async Task<string> NextAsync(string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var line = await Lines.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return line;
            }
        }
    }
}

/// <summary>
/// A driver whose machines are in-process fake agents on the internal NATS server: each connects with the
/// machine's credentials, answers pings and, when <see cref="HandShakes"/>, hand-shakes like the real agent.
/// </summary>
internal sealed class FakeAgentDriver(InternalNatsServer internalNats, bool handShakes = true) : IMachineDriver
{
    private readonly Channel<FakeAgentMachine> _started = Channel.CreateUnbounded<FakeAgentMachine>();
    private int _starts;

    public bool HandShakes => handShakes;

    public int Starts => Volatile.Read(ref _starts);

    public string Name => "fake";

    public string? WorkloadNatsUrl(string mainUrl) => null;

    /// <summary>The next machine the pool started.</summary>
    public Task<FakeAgentMachine> NextStartAsync(TimeSpan timeout) => _started.Reader.ReadAsync().AsTask().WaitAsync(timeout);

    public async Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _starts);
        var connection = await internalNats.ConnectAsWorkloadAsync(spec.UserSeed, spec.Id, cancellationToken);
        var machine = new FakeAgentMachine(spec.Id, connection);
        await machine.AnswerPingsAsync(cancellationToken);
        if (handShakes)
        {
            var handshake = new HandshakeRequest { Id = spec.Id, StartTime = DateTimeOffset.UtcNow, Message = "fake" };
            await connection.PublishAsync(AgentSubjects.Handshake(spec.Id), JsonSerializer.SerializeToUtf8Bytes(handshake, NexJson.Context.HandshakeRequest), cancellationToken: cancellationToken);
        }

        _started.Writer.TryWrite(machine);
        return machine;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>One fake agent: a connection that answers pings until the machine is stopped.</summary>
internal sealed class FakeAgentMachine(string id, NatsConnection connection) : IMachine
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private INatsSub<byte[]>? _pings;
    private Task _answering = Task.CompletedTask;
    private Task? _stop;

    public string Id => id;

    public int? ProcessId => null;

    public Task Exited => _exited.Task;

    public MachineUsage? ReadUsage(ProcessTable processes) => null;

    public async Task AnswerPingsAsync(CancellationToken cancellationToken)
    {
        _pings = await connection.SubscribeCoreAsync<byte[]>(AgentSubjects.AgentPing(id), cancellationToken: cancellationToken);
        _answering = Task.Run(async () =>
        {
            await foreach (var ping in _pings.Msgs.ReadAllAsync(_stopping.Token))
            {
                await ping.ReplyAsync<byte[]>([], cancellationToken: _stopping.Token);
            }
        }, CancellationToken.None); // lives as long as the machine, not the start
        await connection.PingAsync(cancellationToken); // the subscription is in place before the pool pings
    }

    /// <summary>The agent dies by itself.</summary>
    public Task CrashAsync() => StopAsync(TimeSpan.Zero, CancellationToken.None);

    public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        lock (_exited)
        {
            return _stop ??= StopCoreAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.Zero, CancellationToken.None);

    private async Task StopCoreAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _answering;
        }
        catch (OperationCanceledException)
        {
        }

        if (_pings is not null)
        {
            await _pings.DisposeAsync();
        }

        await connection.DisposeAsync();
        _stopping.Dispose();
        _exited.TrySetResult();
    }
}

/// <summary>Waits for a condition that has no event of its own (the pool counts an agent warm just after it logs so).</summary>
internal static class Until
{
    public static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!condition())
        {
            try
            {
                await Task.Delay(10, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
        }
    }
}
