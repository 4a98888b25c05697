using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Nex.Node.Agents;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>How workloads end, what is announced when they do, and essential restarts.</summary>
internal sealed partial class WorkloadManager
{
    /// <summary>
    /// Ends a workload once, whoever asks first. Graceful ends (STOP, shutdown) ask the agent to
    /// undeploy, which returns only when the workload's process tree is gone. The agent and its
    /// credentials are always destroyed. Every end except a reported exit (whose agent event was
    /// already forwarded) publishes the node's own <c>workload_undeployed</c> (0.2 never did, §11 #5).
    /// </summary>
    private Task EndAsync(Workload workload, WorkloadEnd why, int exitCode, string? message) =>
        workload.EndOnce(async () =>
        {
            _running.TryRemove(workload.Id, out _);
            _recentlyEnded[workload.Id] = (workload, _node.Time.GetUtcNow());
            PruneRecentlyEnded();
            await StopFunctionAsync(workload).ConfigureAwait(false); // triggers first (spec §4.9 step 3)
            if (why is WorkloadEnd.Stopped or WorkloadEnd.NodeShutdown)
            {
                try
                {
                    await workload.Agent.Link.UndeployAsync(UndeployTimeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (AgentRequestException ex)
                {
                    LogUndeployFailed(_logger, workload.Id, ex.Message);
                }
            }

            await workload.Agent.DestroyAsync(AgentStopGrace).ConfigureAwait(false);
            if (why != WorkloadEnd.Exited)
            {
                var reason = why switch
                {
                    WorkloadEnd.Stopped => "Workload shutdown requested",
                    WorkloadEnd.NodeShutdown => "Node shutting down",
                    _ => message ?? "Agent lost",
                };
                await _events.PublishAsync(
                    workload.Namespace,
                    EventTypes.WorkloadUndeployed,
                    new WorkloadUndeployedEvent
                    {
                        WorkloadName = workload.Name,
                        Code = exitCode,
                        Message = $"{reason}: {workload.Name}; vm: {workload.Id}",
                        Name = workload.Name,
                        Reason = reason,
                        Vmid = workload.Id,
                    },
                    NexJson.Context.WorkloadUndeployedEvent).ConfigureAwait(false);
            }

            LogEnded(_logger, workload.Name, workload.Id, why, exitCode);
            if (why is WorkloadEnd.Exited or WorkloadEnd.AgentLost && exitCode != 0 && workload.Essential && !_node.IsLameDuck && !_stopping.IsCancellationRequested)
            {
                var failures = _node.Time.GetUtcNow() - workload.DeployedAt >= TimeSpan.FromMilliseconds(_node.Config.EssentialRestart.ResetAfterMs)
                    ? 1
                    : workload.ConsecutiveFailures + 1;
                ScheduleRestart(workload.Deploy, failures);
            }
        });

    /// <summary>Notices an agent that dies (crash, kill -9) or stops answering, within moments.</summary>
    private async Task WatchAgentAsync(Workload workload)
    {
        var pingInterval = TimeSpan.FromSeconds(5);
        var pingTimeout = TimeSpan.FromMilliseconds(_node.Config.AgentPingTimeoutMs);
        while (!workload.IsEnding)
        {
            var tick = Task.Delay(pingInterval, _stopping.Token);
            var first = await Task.WhenAny(workload.Agent.Exited, tick).ConfigureAwait(false);
            if (workload.IsEnding || _stopping.IsCancellationRequested || !_running.ContainsKey(workload.Id))
            {
                return;
            }

            if (first == workload.Agent.Exited)
            {
                Track(() => EndAsync(workload, WorkloadEnd.AgentLost, -1, "Agent exited unexpectedly"));
                return;
            }

            // No answer while the internal server is down, or just back and its agents still reconnecting,
            // says nothing about the agent: the workload runs on (a dead agent is caught above).
            if (!_node.InternalNatsHealth.UpFor(AgentReconnectGrace, _node.Time.GetUtcNow()))
            {
                continue;
            }

            if (!await workload.Agent.Link.PingAsync(pingTimeout, CancellationToken.None).ConfigureAwait(false) && !workload.IsEnding && _running.ContainsKey(workload.Id)
                && _node.InternalNatsHealth.UpFor(AgentReconnectGrace, _node.Time.GetUtcNow()))
            {
                Track(() => EndAsync(workload, WorkloadEnd.AgentLost, -1, "Lost contact with agent"));
                return;
            }
        }
    }

    private void ScheduleRestart(ValidatedDeploy previous, int consecutiveFailures)
    {
        var delay = _node.Config.EssentialRestart.Delay(consecutiveFailures, RandomNumberGenerator.GetInt32(1000) / 1000.0);
        LogRestartScheduled(_logger, previous.Claims.Sub, delay.TotalMilliseconds, consecutiveFailures);
        Track(async () =>
        {
            try
            {
                await Task.Delay(delay, _node.Time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (_node.IsLameDuck)
            {
                return;
            }

            // The original request replayed (spec §4.10): new id, retry_count + 1, without the
            // per-request connection overrides, through the same checks as any deploy.
            var replay = previous.Request with
            {
                RetryCount = (previous.Request.RetryCount ?? 0) + 1,
                RetriedAt = _node.Time.GetUtcNow(),
                HostServices = null,
                TriggerConnection = null,
            };
            try
            {
                var validated = Validator.Validate(previous.Namespace, replay, trusted: false);
                var result = await DeployAsync(validated, consecutiveFailures, _stopping.Token).ConfigureAwait(false);
                LogRestarted(_logger, result.Name, result.Id, replay.RetryCount ?? 0);
            }
            catch (ControlRejectedException ex) when (!_node.IsLameDuck && !_stopping.IsCancellationRequested)
            {
                LogRestartFailed(_logger, previous.Claims.Sub, ex.Message);
                ScheduleRestart(previous with { Request = replay }, consecutiveFailures + 1);
            }
            catch (OperationCanceledException)
            {
                // Shutting down.
            }
        });
    }

    public async ValueTask OnAgentEventAsync(string agentId, CloudEvent cloudEvent)
    {
        // 0.2 forwards events only from agents that run a workload; warm agents are ignored.
        if (Find(agentId) is not { } workload)
        {
            return;
        }

        var forwarded = cloudEvent with { Source = workload.EventSource(_node.NodeId), Namespace = workload.Namespace };
        if (cloudEvent.Type == EventTypes.WorkloadUndeployed)
        {
            if (workload.IsEnding)
            {
                return; // the node already reports this end itself
            }

            await _events.PublishAsync(workload.Namespace, forwarded).ConfigureAwait(false);
            var code = 0;
            try
            {
                code = cloudEvent.GetData(NexJson.Context.WorkloadUndeployedEvent)?.Code ?? 0;
            }
            catch (JsonException)
            {
                // A malformed code counts as a clean exit.
            }

            Track(() => EndAsync(workload, WorkloadEnd.Exited, code, null));
            return;
        }

        await _events.PublishAsync(workload.Namespace, forwarded).ConfigureAwait(false);
    }

    public ValueTask OnAgentLogAsync(string agentId, AgentLogEntry entry)
    {
        if (Find(agentId) is not { } workload)
        {
            return ValueTask.CompletedTask;
        }

        return _events.PublishLogAsync(workload.Namespace, workload.Name, workload.Id, LogLevels.FromAgentLevel(entry.Level ?? 0), entry.Text ?? "");
    }

    private void PruneRecentlyEnded()
    {
        var cutoff = _node.Time.GetUtcNow() - RecentlyEndedKept;
        foreach (var (id, ended) in _recentlyEnded)
        {
            if (ended.EndedAt < cutoff)
            {
                _recentlyEnded.TryRemove(id, out _);
            }
        }
    }

    [LoggerMessage(EventId = 810, Level = LogLevel.Information, Message = "Workload {Name} ({Id}) ended: {Why}, code {Code}")]
    private static partial void LogEnded(ILogger logger, string name, string id, WorkloadEnd why, int code);

    [LoggerMessage(EventId = 811, Level = LogLevel.Warning, Message = "Agent {Id} did not confirm the undeploy: {Reason}; stopping it by force")]
    private static partial void LogUndeployFailed(ILogger logger, string id, string reason);

    [LoggerMessage(EventId = 812, Level = LogLevel.Information, Message = "Essential workload {Name} failed; restarting in {DelayMs:0} ms (failure {Failures} in a row)")]
    private static partial void LogRestartScheduled(ILogger logger, string name, double delayMs, int failures);

    [LoggerMessage(EventId = 813, Level = LogLevel.Information, Message = "Essential workload {Name} restarted as {Id} (retry {Retry})")]
    private static partial void LogRestarted(ILogger logger, string name, string id, uint retry);

    [LoggerMessage(EventId = 814, Level = LogLevel.Warning, Message = "Restart of essential workload {Name} failed: {Reason}")]
    private static partial void LogRestartFailed(ILogger logger, string name, string reason);
}
