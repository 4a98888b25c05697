using System.Globalization;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Agent.HostServices;
using Nex.Agent.Providers;
using Nex.Nats;
using Nex.Protocol;

namespace Nex.Agent;

/// <summary>Deploy, undeploy, triggers and the lifecycle events of the one workload.</summary>
internal sealed partial class NexAgent
{
    // Triggers handed to the provider at once; the node relays at most 64 per trigger subscription.
    private static readonly NatsEndpointOptions TriggerEndpoint = new(MaxConcurrency: 64, InlineStart: true);

    private async ValueTask HandleDeployAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        var (response, started) = await DeployAsync(msg.Data ?? [], cancellationToken).ConfigureAwait(false);
        if (!response.Accepted)
        {
            LogDeployRejected(_logger, response.Message ?? string.Empty);
        }

        try
        {
            await ReplyAsync(msg, JsonSerializer.SerializeToUtf8Bytes(response, NexJson.Context.AgentDeployResponse), null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Events only after the reply, so the node knows the workload before it hears about it;
            // and watched even if the reply was lost, since the workload runs.
            if (started is not null)
            {
                started.Watcher = WatchAsync(started);
            }
        }
    }

    private async Task<(AgentDeployResponse Response, ActiveWorkload? Started)> DeployAsync(byte[] body, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_deployAccepted || _workload is not null)
            {
                return (Reject("workload already deployed"), null);
            }

            AgentDeployRequest request;
            try
            {
                // Like Go, the JSON literal null is an empty request (which then fails validation).
                request = JsonSerializer.Deserialize(body, NexJson.Context.AgentDeployRequest) ?? new AgentDeployRequest();
            }
            catch (JsonException ex)
            {
                return (Reject($"Failed to unmarshal deploy request: {ex.Message}"), null);
            }

            if (DeployRequestValidator.RejectionMessage(request) is { } invalid)
            {
                return (Reject(invalid), null);
            }

            string artifact;
            try
            {
                artifact = request.Command is { Length: > 0 } command
                    ? command // already in the sandbox (an OCI image's entrypoint): nothing to fetch
                    : request.InlineArtifact is { } inline
                    ? await ArtifactFetcher.WriteAsync(_settings.WorkloadId, inline, request.TotalBytes, cancellationToken).ConfigureAwait(false)
                    : await ArtifactFetcher.FetchAsync(Connection, _settings.WorkloadId, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return (Reject($"Failed to get and write workload artifact to temp dir: {ex.Message}"), null);
            }

            IWorkloadProvider provider;
            try
            {
                provider = _providers.Create(new WorkloadContext
                {
                    AgentId = _settings.WorkloadId,
                    Request = request,
                    ArtifactPath = artifact,
                    Output = Publisher.OutputFor(request.WorkloadName),
                    Connection = Connection,
                    StopGrace = _settings.StopGrace,
                    Sandboxed = _settings.Sandboxed,
                    Loggers = _loggers,
                    Time = _time,
                });
            }
            catch (WorkloadProviderException ex)
            {
                DeleteArtifact(request, artifact);
                return (Reject($"Failed to initialize workload execution provider; {ex.Message}"), null);
            }

            var workload = new ActiveWorkload(request, provider, artifact);
            _workload = workload;
            string? failure = null;
            try
            {
                await provider.ValidateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failure = $"Failed to validate workload: {ex.Message}";
            }

            if (failure is null)
            {
                try
                {
                    await provider.DeployAsync(cancellationToken).ConfigureAwait(false);
                    if (provider.SupportsTriggers)
                    {
                        // Subscribed only now; its own group, so an undeploy can drain it (the triggers in flight
                        // finish) while the agent keeps serving. Triggers are handed to the provider as they come
                        // (it queues them for its engine), up to a bound: the read loop never waits for an
                        // execution, so under load the engine goes from one call to the next without sleeping.
                        workload.Triggers = new NatsEndpoints(OnHandlerFailedAsync, _stopping.Token);
                        await workload.Triggers.AddAsync(Connection, AgentSubjects.Trigger(_settings.WorkloadId), (msg, token) => ExecuteTriggerAsync(workload, msg, token), TriggerEndpoint, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    failure = $"Failed to deploy workload: {ex.Message}";
                }
            }

            if (failure is not null)
            {
                workload.StopRequested = true;
                await ReleaseAsync(workload).ConfigureAwait(false);
                _workload = null;
                return (Reject(failure), null);
            }

            _deployAccepted = true;
            LogDeployed(_logger, request.WorkloadName, request.WorkloadType);
            return (new AgentDeployResponse { Accepted = true, Message = "Workload deployed" }, workload);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static AgentDeployResponse Reject(string message) => new() { Accepted = false, Message = message };

    private async ValueTask HandleUndeployAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_workload is { } workload)
            {
                await StopWorkloadAsync(workload).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }

        // Only now: the whole process tree is gone.
        await ReplyAsync(msg, [], null, cancellationToken).ConfigureAwait(false);
    }

    // Node-initiated (undeploy, agent shutdown): no workload_undeployed event. Idempotent.
    private async Task StopWorkloadAsync(ActiveWorkload workload)
    {
        if (!workload.StopRequested)
        {
            LogUndeploying(_logger, workload.Request.WorkloadName);
        }

        workload.StopRequested = true;
        await ReleaseAsync(workload).ConfigureAwait(false);
        await workload.Watcher.ConfigureAwait(false);
    }

    private static async Task ReleaseAsync(ActiveWorkload workload)
    {
        if (workload.Released)
        {
            return;
        }

        workload.Released = true;
        if (workload.Triggers is { } triggers)
        {
            await triggers.DrainAsync().ConfigureAwait(false);
        }

        await workload.Provider.UndeployAsync(CancellationToken.None).ConfigureAwait(false);
        await workload.Provider.DisposeAsync().ConfigureAwait(false);
        DeleteArtifact(workload.Request, workload.ArtifactPath);
    }

    private async Task WatchAsync(ActiveWorkload workload)
    {
        var name = workload.Request.WorkloadName;
        var cancellationToken = CancellationToken.None;
        if (!workload.StopRequested)
        {
            await Publisher.PublishEventAsync(EventTypes.WorkloadDeployed, new WorkloadDeployedEvent { WorkloadName = name, Code = 0 }, NexJson.Context.WorkloadDeployedEvent, cancellationToken).ConfigureAwait(false);
            await Publisher.PublishLogAsync(AgentPublisher.AgentSource, AgentPublisher.InfoLevel, $"Workload {name} deployed", cancellationToken).ConfigureAwait(false);
            await Publisher.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        int code;
        bool failed;
        try
        {
            code = await workload.Provider.Completion.ConfigureAwait(false);
            failed = false;
        }
        catch (Exception ex)
        {
            LogWorkloadFailed(_logger, name, ex);
            code = -1;
            failed = true;
        }

        DeleteArtifact(workload.Request, workload.ArtifactPath);
        if (workload.StopRequested)
        {
            return;
        }

        var id = _settings.WorkloadId;
        var data = new WorkloadUndeployedEvent
        {
            WorkloadName = name,
            Code = code,
            Message = failed
                ? $"Failed to start workload: {name}; vm: {id}"
                : string.Create(CultureInfo.InvariantCulture, $"Exited workload: {name}; vm: {id}; status: {code}"),
        };
        await Publisher.PublishEventAsync(EventTypes.WorkloadUndeployed, data, NexJson.Context.WorkloadUndeployedEvent, cancellationToken).ConfigureAwait(false);
        await Publisher.PublishLogAsync(
            AgentPublisher.AgentSource,
            code != 0 ? AgentPublisher.ErrorLevel : AgentPublisher.InfoLevel,
            failed ? $"Workload {name} failed to deploy" : $"Workload {name} exited",
            cancellationToken).ConfigureAwait(false);
        await Publisher.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    // A fetched artifact is ours to delete; a command that was already in the sandbox is not.
    private static void DeleteArtifact(AgentDeployRequest request, string path)
    {
        if (request.Command is not { Length: > 0 })
        {
            ArtifactFetcher.Delete(path);
        }
    }

    private async ValueTask ExecuteTriggerAsync(ActiveWorkload workload, NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        var subject = msg.Headers is { } headers && headers.TryGetValue(AgentSubjects.TriggerSubjectHeader, out var values) && values.Count > 0
            ? values.ToString()
            : msg.Subject;
        if (TraceContext.From(msg.Headers) is { } trace)
        {
            // Scoped to this trigger's flow (an async method): concurrent triggers each see their own.
            TraceContext.Current = trace;
        }

        TriggerResult? result;
        try
        {
            result = await workload.Provider.ExecuteAsync(subject, msg.Data ?? [], cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            // Answered at once (0.2 sent nothing, and the caller waited its whole timeout).
            LogTriggerFailed(_logger, workload.Request.WorkloadName, subject, ex.Message);
            result = TriggerResult.Failed(ex.Message, FunctionErrors.Exception);
        }

        if (result is null)
        {
            return;
        }

        var replyHeaders = result.RuntimeNanoseconds is { } ns
            ? new NatsHeaders { [AgentSubjects.RuntimeNsHeader] = ns.ToString(CultureInfo.InvariantCulture) }
            : null;
        if (result.Error is { } error)
        {
            // A header value is one line: the first line of the cause.
            replyHeaders ??= [];
            replyHeaders[FunctionErrors.Header] = FirstLine(error);
            replyHeaders[FunctionErrors.CodeHeader] = result.ErrorCode.ToString(CultureInfo.InvariantCulture);
        }

        try
        {
            if (string.IsNullOrEmpty(msg.ReplyTo))
            {
                LogNoReplySubject(_logger, msg.Subject);
                return;
            }

            // The result as it is (no copy into a new array).
            await Connection.PublishAsync(msg.ReplyTo, result.Data, replyHeaders, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or ObjectDisposedException)
        {
            LogTriggerFailed(_logger, workload.Request.WorkloadName, subject, ex.Message);
        }
    }

    private static string FirstLine(string text)
    {
        var line = text.AsSpan().TrimStart();
        var end = line.IndexOfAny('\r', '\n');
        return (end >= 0 ? line[..end] : line).ToString();
    }

    /// <summary>The deployed workload and what the agent holds for it.</summary>
    private sealed class ActiveWorkload(AgentDeployRequest request, IWorkloadProvider provider, string artifactPath)
    {
        public AgentDeployRequest Request { get; } = request;

        public IWorkloadProvider Provider { get; } = provider;

        public string ArtifactPath { get; } = artifactPath;

        /// <summary>The node (or a signal) asked for the stop: its exit is not reported as an event.</summary>
        public volatile bool StopRequested;

        /// <summary>Provider stopped and disposed, artifact deleted (under the agent's gate).</summary>
        public bool Released;

        public Task Watcher { get; set; } = Task.CompletedTask;

        /// <summary>The trigger subscription, once the provider takes triggers.</summary>
        public NatsEndpoints? Triggers { get; set; }
    }
}
