using Nex.Agent.HostServices;
using Nex.Protocol;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// One call and its state machine: accepted → started (a context taken, the deadline armed) → an outcome
/// (a result or an error; the first one wins) → finished (answered once). The outcome and the context are
/// written on the owner thread only; the deadline timer reads and sets the flags from its own thread, so
/// those are volatile. Time comes from the agent's <see cref="TimeProvider"/>: its timestamps (the same
/// cost as <see cref="System.Diagnostics.Stopwatch"/> for the system clock) measure the reported runtime,
/// and its timer is the deadline.
/// </summary>
/// <param name="subject">The trigger subject.</param>
/// <param name="payload">The payload bytes (a copy the call owns).</param>
internal sealed class V8Invocation(string subject, byte[] payload)
{
    private volatile bool _hasOutcome;
    private volatile bool _timedOut;
    private volatile bool _finished;
    private long _startTimestamp;

    /// <summary>The trigger subject.</summary>
    public string Subject { get; } = subject;

    /// <summary>The payload bytes.</summary>
    public byte[] Payload { get; } = payload;

    /// <summary>The trigger's trace context, taken when the call is accepted (a queued call runs on the owner thread, not in the trigger's flow).</summary>
    public TraceContext? Trace { get; } = TraceContext.Current;

    /// <summary>The caller's result: the reply, or null (failed, or stopped).</summary>
    // Completed outside any JavaScript, on the thread that ran the call. A queued call's waiting caller (the
    // agent, which then replies) resumes right there on the owner thread, before the used context is disposed
    // and the next one prepared: a hop through the thread pool cost ~20% of a V8 round trip while the
    // preparation took the CPU. A call run on its caller's thread (reuse) is complete when Enqueue returns.
    public TaskCompletionSource<TriggerResult?> Completion { get; } = new(TaskCreationOptions.None);

    /// <summary>Cancels the host-service requests of this call once it is finished.</summary>
    public CancellationTokenSource Abort { get; } = new();

    /// <summary>The context the call runs in (set when started).</summary>
    public V8PreparedContext? Context { get; set; }

    /// <summary>The result bytes, when it succeeded.</summary>
    public byte[]? Result { get; private set; }

    /// <summary>The error text, when it failed.</summary>
    public string? Error { get; private set; }

    /// <summary>The <see cref="FunctionErrors"/> code of <see cref="Error"/> (a timeout answers 408 whatever this says).</summary>
    public int ErrorCode { get; private set; } = FunctionErrors.Exception;

    /// <summary>True once a result or an error is set.</summary>
    public bool HasOutcome => _hasOutcome;

    /// <summary>True once the deadline passed before the call finished.</summary>
    public bool TimedOut => _timedOut;

    /// <summary>True once the call was answered (its resources released).</summary>
    public bool Finished => _finished;

    private ITimer? Deadline { get; set; }

    /// <summary>The error text of a call that ran out of time.</summary>
    /// <param name="timeout">The function's timeout.</param>
    /// <returns>The text (the 0.2 wording).</returns>
    public static string TimeoutMessage(TimeSpan timeout) =>
        $"function execution timed out after {timeout.TotalMilliseconds:0} ms";

    /// <summary>Records the start, from which the runtime is measured.</summary>
    /// <param name="time">The agent's clock.</param>
    public void MarkStarted(TimeProvider time) => _startTimestamp = time.GetTimestamp();

    /// <summary>
    /// Arms the deadline: <paramref name="onTimeout"/> runs on a timer thread after <paramref name="timeout"/>, then
    /// every <see cref="DeadlineRepeat"/> until the call finishes (<see cref="StopClock"/>). An interrupt from another
    /// thread can be lost (ClearScript guarantees one only on the script's own thread: it races with the script
    /// entering V8 or coming back from a host call), so the deadline repeats it.
    /// </summary>
    /// <param name="time">The agent's clock.</param>
    /// <param name="timeout">The function's timeout.</param>
    /// <param name="onTimeout">Called with this invocation.</param>
    public void ArmDeadline(TimeProvider time, TimeSpan timeout, TimerCallback onTimeout) =>
        Deadline = time.CreateTimer(onTimeout, this, timeout, DeadlineRepeat);

    /// <summary>How often a passed deadline fires again while the call has not finished.</summary>
    public static TimeSpan DeadlineRepeat { get; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Sets the result unless an outcome is already set.</summary>
    /// <param name="result">The reply bytes.</param>
    public void Succeed(byte[] result)
    {
        if (!_hasOutcome)
        {
            Result = result;
            _hasOutcome = true;
        }
    }

    /// <summary>Sets the error unless an outcome is already set.</summary>
    /// <param name="error">The error text.</param>
    /// <param name="code">Its <see cref="FunctionErrors"/> code.</param>
    public void Fail(string error, int code = FunctionErrors.Exception)
    {
        if (!_hasOutcome)
        {
            Error = error;
            ErrorCode = code;
            _hasOutcome = true;
        }
    }

    /// <summary>
    /// The deadline passed: marks the call timed out unless it already has an outcome, is finished, or was marked
    /// already (a repeat of the deadline).
    /// </summary>
    /// <returns>True the first time the call must be ended for its timeout.</returns>
    public bool TryTimeOut()
    {
        if (_hasOutcome || _finished || _timedOut)
        {
            return false;
        }

        _timedOut = true;
        return true;
    }

    /// <summary>Marks the call finished; only the first call returns true (a call is answered once).</summary>
    /// <returns>True when this call marked it.</returns>
    public bool TryMarkFinished()
    {
        if (_finished)
        {
            return false;
        }

        _finished = true;
        return true;
    }

    /// <summary>Ends the clock of a finished call: stops the deadline and cancels its host-service requests.</summary>
    /// <param name="time">The clock <see cref="MarkStarted"/> used.</param>
    /// <returns>The runtime since the start.</returns>
    public TimeSpan StopClock(TimeProvider time)
    {
        var elapsed = time.GetElapsedTime(_startTimestamp);
        Deadline?.Dispose();
        Abort.Cancel();
        return elapsed;
    }

    /// <summary>The caller's reply: the result, or the error and its code, with the runtime in nanoseconds.</summary>
    /// <param name="elapsed">The runtime.</param>
    /// <returns>The reply.</returns>
    public TriggerResult Reply(TimeSpan elapsed) =>
        Error is null
            ? new TriggerResult(Result ?? [], (long)(elapsed.Ticks * 100))
            : TriggerResult.Failed(Error, TimedOut ? FunctionErrors.Timeout : ErrorCode, (long)(elapsed.Ticks * 100));
}
