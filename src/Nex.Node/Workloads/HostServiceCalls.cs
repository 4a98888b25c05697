using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using Nex.Node.HostServices;
using Nex.Node.Telemetry;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>Answers one host-service call of an agent (spec §6.1) with the code and message headers.</summary>
internal static class HostServiceCalls
{
    /// <summary>
    /// Runs the call on <paramref name="services"/> (null: the agent runs no function, or none with host services)
    /// and replies. Only the service and method come from the subject; the namespace and name come from the node's
    /// own record (0.2 trusted the agent's, §11 #16).
    /// </summary>
    public static async ValueTask AnswerAsync(WorkloadHostServices? services, NatsMsg<byte[]> msg, CancellationToken cancellationToken, Telemetry.WorkloadCalls? calls = null)
    {
        if (string.IsNullOrEmpty(msg.ReplyTo))
        {
            return;
        }

        HostServiceResponse response;
        var wellFormed = AgentSubjects.TryParseHostServicesRpc(msg.Subject, out var call);
        using var span = StartSpan(services, msg, wellFormed ? call : (HostServicesRpcSubject?)null);
        if (!wellFormed || services is null)
        {
            response = new HostServiceResponse(400, wellFormed ? "this workload has no host services" : $"invalid host services subject: {msg.Subject}", []);
        }
        else
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, values) in msg.Headers ?? [])
            {
                headers[key] = values.ToString();
            }

            response = await services.HandleAsync(call.Service, call.Method, headers, msg.Data ?? [], cancellationToken).ConfigureAwait(false);
            calls?.HostServiceCalled(call.Service, response.Code);
        }

        if (span is not null)
        {
            span.SetTag("nex.host_service.code", response.Code);
            if (response.Code != 200)
            {
                NodeTracing.Fail(span, response.Code.ToString(CultureInfo.InvariantCulture), response.Message);
            }
        }

        var replyHeaders = new NatsHeaders
        {
            [HostServicesProtocol.CodeHeader] = response.Code.ToString(CultureInfo.InvariantCulture),
            [HostServicesProtocol.MessageHeader] = response.Message,
        };
        await msg.ReplyAsync(response.Body, replyHeaders, cancellationToken: CancellationToken.None).ConfigureAwait(false);
    }

    // A child of the trigger whose context the agent carried over; the workload from the node's own record.
    private static Activity? StartSpan(WorkloadHostServices? services, NatsMsg<byte[]> msg, HostServicesRpcSubject? call)
    {
        var span = NodeTracing.StartServer(NodeTracing.HostServiceSpan, msg.Headers, msg.Subject);
        if (span is not null)
        {
            span.SetTag("nex.host_service.name", call?.Service).SetTag("nex.host_service.method", call?.Method);
            if (services is not null)
            {
                span.SetTag("nex.workload.name", services.Caller.WorkloadName).SetTag("nex.namespace", services.Caller.Namespace).SetTag("nex.workload.id", services.Caller.WorkloadId);
            }
        }

        return span;
    }
}
