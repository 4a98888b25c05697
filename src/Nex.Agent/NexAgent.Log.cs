using Microsoft.Extensions.Logging;

namespace Nex.Agent;

/// <summary>The agent's own diagnostics (stderr, one line each).</summary>
internal sealed partial class NexAgent
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Connected to {Url}")]
    private static partial void LogConnected(ILogger logger, string url);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Cannot connect to {Url} yet: {Reason}; retrying")]
    private static partial void LogConnectRetry(ILogger logger, string url, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Handshake with the node succeeded for {Id}")]
    private static partial void LogHandshake(ILogger logger, string id);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Agent {Id} ready for a workload")]
    private static partial void LogReady(ILogger logger, string id);

    [LoggerMessage(EventId = 5, Level = LogLevel.Critical, Message = "{Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Signal received; stopping the workload and shutting down")]
    private static partial void LogShuttingDown(ILogger logger);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Lost the connection to the node; giving up after {GraceMs} ms unless it comes back")]
    private static partial void LogDisconnected(ILogger logger, double graceMs);

    [LoggerMessage(EventId = 25, Level = LogLevel.Warning, Message = "Still no connection to the node; the workload keeps running and the agent keeps reconnecting (next check in {GraceMs} ms)")]
    private static partial void LogKeepingWorkload(ILogger logger, double graceMs);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Reconnected to the node")]
    private static partial void LogReconnected(ILogger logger);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error, Message = "Handling a message on {Subject} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string subject, Exception exception);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "A request on {Subject} has no reply subject; nothing to answer")]
    private static partial void LogNoReplySubject(ILogger logger, string subject);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Shutdown step did not finish cleanly: {Reason}")]
    private static partial void LogShutdownStepFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Deploy rejected: {Reason}")]
    private static partial void LogDeployRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Workload {Name} ({Type}) deployed")]
    private static partial void LogDeployed(ILogger logger, string name, string type);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Undeploying workload {Name}")]
    private static partial void LogUndeploying(ILogger logger, string name);

    [LoggerMessage(EventId = 23, Level = LogLevel.Error, Message = "Workload {Name} failed")]
    private static partial void LogWorkloadFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 24, Level = LogLevel.Error, Message = "Trigger of {Name} on {Subject} failed: {Reason}")]
    private static partial void LogTriggerFailed(ILogger logger, string name, string subject, string reason);
}
