using Microsoft.Extensions.Logging;
using NATS.NKeys;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Workloads;

/// <summary>
/// Deploys the config's <c>autostart.workloads</c> at start (spec §4.12): each request is signed by
/// an issuer made at node start (so nobody outside can stop these) and encrypted to the node's own
/// xkey. As in 0.2 the limits, deny list and issuer allow-list do not apply; a failing entry is
/// logged and skipped. Unlike 0.2 the node never shuts itself down over it.
/// </summary>
internal static partial class Autostart
{
    public static async Task RunAsync(AutostartConfig config, WorkloadManager manager, NodeState node, KeyPair issuer, ILogger logger, CancellationToken cancellationToken)
    {
        var failed = 0;
        foreach (var entry in config.Workloads)
        {
            try
            {
                if (!WorkloadLocation.TryParse(entry.Location, out var location) || location is null)
                {
                    throw new ControlRejectedException($"invalid location '{entry.Location}'");
                }

                var sender = NexKeys.CreateCurve();
                var request = new DeployRequest
                {
                    Argv = entry.Argv,
                    Description = entry.Description ?? "",
                    Type = entry.Type,
                    Location = location,
                    Essential = entry.Essential && entry.Type == WorkloadTypes.Native,
                    WorkloadJwt = WorkloadJwt.Issue(issuer, entry.Name, null, node.Time.GetUtcNow()),
                    Environment = EnvironmentCipher.Encrypt(entry.Environment, sender, node.Identity.PublicXKey),
                    JsDomain = entry.JsDomain ?? "",
                    SenderPublicKey = sender.GetPublicKey(),
                    TargetNode = node.NodeId,
                    TriggerSubjects = entry.TriggerSubjects,
                };
                var ns = string.IsNullOrEmpty(entry.Namespace) ? "default" : entry.Namespace;
                var result = await manager.DeployAsync(manager.Validator.Validate(ns, request, trusted: true) with { Origin = DesiredState.OriginAutostart }, cancellationToken).ConfigureAwait(false);
                LogStarted(logger, entry.Name, result.Id);
            }
            catch (ControlRejectedException ex)
            {
                failed++;
                LogFailed(logger, entry.Name, ex.Message);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (failed > 0)
        {
            LogNotAll(logger, failed, config.Workloads.Count);
        }
    }

    [LoggerMessage(EventId = 850, Level = LogLevel.Information, Message = "Autostart workload {Name} deployed as {Id}")]
    private static partial void LogStarted(ILogger logger, string name, string id);

    [LoggerMessage(EventId = 851, Level = LogLevel.Error, Message = "Autostart workload {Name} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 852, Level = LogLevel.Warning, Message = "Not all startup workloads succeeded ({Failed} of {Total} failed)")]
    private static partial void LogNotAll(ILogger logger, int failed, int total);
}
