using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Agent.Providers;

/// <summary>
/// Runs the one workload of this agent (spec §5.7). One instance per deploy; the agent calls
/// <see cref="ValidateAsync"/>, then <see cref="DeployAsync"/>, watches <see cref="Completion"/>,
/// routes <c>agentint.&lt;id&gt;.trigger</c> to <see cref="ExecuteAsync"/> when <see cref="SupportsTriggers"/>,
/// and ends with <see cref="UndeployAsync"/> and <see cref="IAsyncDisposable.DisposeAsync"/>.
/// </summary>
internal interface IWorkloadProvider : IAsyncDisposable
{
    /// <summary>
    /// True for function types (<c>v8</c>, <c>wasm</c>): the agent then subscribes
    /// <c>agentint.&lt;id&gt;.trigger</c> before replying to the deploy and calls <see cref="ExecuteAsync"/>.
    /// </summary>
    bool SupportsTriggers { get; }

    /// <summary>
    /// Completes when the workload has ended: with its exit code once it exited on its own or was stopped
    /// (and all its output has been written), or faulted when it failed after <see cref="DeployAsync"/>
    /// returned (reported as code −1, <c>Failed to start workload</c>). Function providers complete it
    /// on undeploy.
    /// </summary>
    Task<int> Completion { get; }

    /// <summary>
    /// Checks the artifact before anything runs (V8: size and compile; WASM: compile). A failure rejects the
    /// deploy with <c>Failed to validate workload: &lt;message&gt;</c>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that faults when the artifact is unusable.</returns>
    Task ValidateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts the workload. A failure rejects the deploy with <c>Failed to deploy workload: &lt;message&gt;</c>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes once the workload runs.</returns>
    Task DeployAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stops the workload and returns only when everything it started is gone. Idempotent, and safe
    /// before <see cref="DeployAsync"/> or after the workload ended on its own.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (not the stop).</param>
    /// <returns>A task that completes when the workload is gone.</returns>
    Task UndeployAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs one trigger. Null means "no reply" (0.2: the node times out and reports
    /// <c>function_exec_failed</c>); so does an exception, whose text the agent logs.
    /// </summary>
    /// <param name="subject">The subject the trigger message actually arrived on (header <c>x-nex-trigger-subject</c>).</param>
    /// <param name="payload">The raw trigger payload.</param>
    /// <param name="cancellationToken">Cancels the execution.</param>
    /// <returns>The reply, or null for none.</returns>
    Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);
}

/// <summary>Creates the provider for a deploy request's <c>workload_type</c>.</summary>
internal interface IWorkloadProviderFactory
{
    /// <summary>Creates (but does not start) the provider for <paramref name="context"/>.</summary>
    /// <param name="context">The deploy.</param>
    /// <returns>The provider.</returns>
    /// <exception cref="WorkloadProviderException">The type is unknown or unsupported; the message becomes
    /// <c>Failed to initialize workload execution provider; &lt;message&gt;</c>.</exception>
    IWorkloadProvider Create(WorkloadContext context);
}

/// <summary>Which output stream a chunk of workload output came from.</summary>
internal enum WorkloadStream
{
    /// <summary>stdout (agent log level 4, info).</summary>
    StandardOutput,

    /// <summary>stderr (agent log level 2, error).</summary>
    StandardError,
}

/// <summary>Where a provider sends its workload's output; the agent forwards it to <c>hostint.&lt;id&gt;.logs</c>.</summary>
internal interface IWorkloadOutput
{
    /// <summary>Forwards one chunk (one read; may hold several or partial lines). Never throws.</summary>
    /// <param name="stream">stdout or stderr.</param>
    /// <param name="text">The text.</param>
    /// <param name="cancellationToken">Cancels the forward.</param>
    /// <returns>A task that completes once the chunk is handed to NATS.</returns>
    ValueTask WriteAsync(WorkloadStream stream, string text, CancellationToken cancellationToken);
}

/// <summary>A trigger's reply: the bytes, and for V8 the execution time (header <c>x-nex-runtime-ns</c>).</summary>
/// <param name="Data">The reply payload.</param>
/// <param name="RuntimeNanoseconds">Execution time, or null to omit the header (WASM).</param>
internal sealed record TriggerResult(ReadOnlyMemory<byte> Data, long? RuntimeNanoseconds)
{
    /// <summary>Why the call failed (answered at once with <see cref="FunctionErrors"/> headers), or null on success.</summary>
    public string? Error { get; init; }

    /// <summary>The <see cref="FunctionErrors"/> code of a failure.</summary>
    public int ErrorCode { get; init; }

    /// <summary>A failed call: no data, the cause and its code.</summary>
    /// <param name="error">The cause.</param>
    /// <param name="code">A <see cref="FunctionErrors"/> code.</param>
    /// <param name="runtimeNanoseconds">Execution time, when measured.</param>
    /// <returns>The result.</returns>
    public static TriggerResult Failed(string error, int code, long? runtimeNanoseconds = null) =>
        new(ReadOnlyMemory<byte>.Empty, runtimeNanoseconds) { Error = error, ErrorCode = code };
}

/// <summary>Everything a provider gets for one deploy.</summary>
internal sealed record WorkloadContext
{
    /// <summary>The agent/workload id.</summary>
    public required string AgentId { get; init; }

    /// <summary>The validated deploy request (environment already decrypted by the node).</summary>
    public required AgentDeployRequest Request { get; init; }

    /// <summary>The fetched artifact (mode 0700), owned and deleted by the agent.</summary>
    public required string ArtifactPath { get; init; }

    /// <summary>Where workload output goes.</summary>
    public required IWorkloadOutput Output { get; init; }

    /// <summary>The agent's connection to the node (host services for V8 go through it).</summary>
    public required INatsConnection Connection { get; init; }

    /// <summary>Grace between SIGTERM and SIGKILL when stopping a process.</summary>
    public required TimeSpan StopGrace { get; init; }

    /// <summary>Whether the agent runs in a sandbox (0.2 skips native validation when it does not).</summary>
    public bool Sandboxed { get; init; }

    /// <summary>Loggers for the provider's own diagnostics.</summary>
    public required ILoggerFactory Loggers { get; init; }

    /// <summary>Clock.</summary>
    public required TimeProvider Time { get; init; }
}

/// <summary>A provider cannot be built for a request; the message is the reason.</summary>
internal sealed class WorkloadProviderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WorkloadProviderException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The reason.</param>
    public WorkloadProviderException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The reason.</param>
    /// <param name="innerException">The cause.</param>
    public WorkloadProviderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
