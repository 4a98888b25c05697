namespace Nex.Agent.Providers.V8;

/// <summary>How each invocation gets its JavaScript context.</summary>
internal enum V8IsolationMode
{
    /// <summary>Contexts prepared ahead in a small pool, refilled on the owner thread when idle (default).</summary>
    PooledContexts,

    /// <summary>A fresh context created on the hot path of every call (0.2's behaviour, ~1 ms).</summary>
    FreshContextPerCall,

    /// <summary>
    /// One context reused by every call of the lane (<c>"function_context": "reuse"</c>): globals persist between
    /// calls, as in Cloudflare Workers and AWS Lambda. A call that fails (throws, times out, runs out of memory)
    /// leaves its context: the next call gets a fresh one, prepared ahead as a spare.
    /// </summary>
    ReusedContext,
}

/// <summary>Limits and tuning of one V8 function (spec §5.10 and the Nex for .NET deploy extensions).</summary>
internal sealed record V8Options
{
    /// <summary>0.2's source size limit.</summary>
    public const int DefaultMaxSourceBytes = 12_288;

    /// <summary>0.2's execution timeout.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Default V8 heap limit of one function.</summary>
    public const long DefaultMaxMemoryBytes = 64L * 1024 * 1024;

    /// <summary>Largest accepted source, bytes.</summary>
    public int MaxSourceBytes { get; init; } = DefaultMaxSourceBytes;

    /// <summary>Execution timeout of one call (including awaited host services).</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>V8 heap limit, bytes.</summary>
    public long MaxMemoryBytes { get; init; } = DefaultMaxMemoryBytes;

    /// <summary>Isolation mechanism.</summary>
    public V8IsolationMode Mode { get; init; } = V8IsolationMode.PooledContexts;

    /// <summary>Prepared contexts kept ready in <see cref="V8IsolationMode.PooledContexts"/>.</summary>
    public int PoolSize { get; init; } = 2;

    /// <summary>
    /// Runtimes (isolates) that take turns, so a call finds one idle with a context ready while the others prepare.
    /// Three, not two, since preparations run at a low priority and take longer under load (measured: with two,
    /// calls more often found every lane busy, and the p99 tripled).
    /// </summary>
    public int Lanes { get; init; } = 3;

    /// <summary>Nice value of the threads that prepare contexts (calls and disposals run at the agent's own).</summary>
    public int PreparationNice { get; init; } = 19;

    /// <summary>
    /// In <see cref="V8IsolationMode.PooledContexts"/>, a call runs on the trigger's own thread (not handed to its lane's
    /// owner thread) when no other call is in flight, its lane is idle with a context ready, and the function's last
    /// call took less than this. Such a call holds the agent's read loop while it runs, so only a function known to
    /// be quick gets it: a message arriving meanwhile waits at most about this long. <see cref="TimeSpan.Zero"/>:
    /// never (every call goes through its lane's owner thread).
    /// </summary>
    public TimeSpan InlineBelow { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Lanes that actually run: one when the context is reused, so every call sees the same globals
    /// (and no lane needs to prepare between calls, which is what the extra lanes are for).</summary>
    public int EffectiveLanes => Mode == V8IsolationMode.ReusedContext ? 1 : Math.Max(1, Lanes);

    /// <summary>Contexts kept ready ahead: <see cref="PoolSize"/> when pooled, one spare (for after a failed call)
    /// when reused, none when each call prepares its own.</summary>
    public int ReadyTarget => Mode switch
    {
        V8IsolationMode.PooledContexts => PoolSize,
        V8IsolationMode.ReusedContext => 1,
        _ => 0,
    };

    /// <summary>The options of a deploy request (0 → defaults).</summary>
    /// <param name="request">The request.</param>
    /// <returns>The options.</returns>
    public static V8Options From(Nex.Protocol.AgentDeployRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new V8Options
        {
            MaxSourceBytes = request.MaxSourceBytes > 0 ? request.MaxSourceBytes : DefaultMaxSourceBytes,
            Timeout = request.FunctionTimeoutMs > 0 ? TimeSpan.FromMilliseconds(request.FunctionTimeoutMs) : DefaultTimeout,
            MaxMemoryBytes = request.MaxMemoryBytes > 0 ? request.MaxMemoryBytes : DefaultMaxMemoryBytes,
            Mode = Nex.Protocol.FunctionContexts.IsReuse(request.FunctionContext) ? V8IsolationMode.ReusedContext : V8IsolationMode.PooledContexts,
        };
    }
}

/// <summary>A V8 function could not be validated or run; the message is the reason.</summary>
internal sealed class V8FunctionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public V8FunctionException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The reason.</param>
    public V8FunctionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The reason.</param>
    /// <param name="innerException">The cause.</param>
    public V8FunctionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
