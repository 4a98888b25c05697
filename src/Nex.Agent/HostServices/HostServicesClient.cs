using System.Globalization;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Agent.HostServices;

/// <summary>A host service's answer: the code, the message and the result bytes (spec §6.2).</summary>
/// <param name="Code">200 on success; 400, 404 or 500 otherwise.</param>
/// <param name="Message"><c>OK</c>, or what went wrong.</param>
/// <param name="Body">The result.</param>
internal sealed record HostServiceReply(int Code, string Message, ReadOnlyMemory<byte> Body)
{
    public bool IsSuccess => Code == 200;
}

/// <summary>A host service call failed; the message reads <c>&lt;hs message&gt; (&lt;code&gt;)</c> as 0.2's JS errors do.</summary>
internal sealed class HostServiceException(string message, int code) : Exception(message)
{
    public int Code { get; } = code;
}

/// <summary>
/// The workload's side of the host services RPC (spec §6): requests on
/// <see cref="AgentSubjects.HostServicesRpc"/> over the agent's own
/// connection, answered by the node. One instance per deployed function; shared by the V8 and
/// WASM providers. The namespace and name in the subject are informational: the node uses its own
/// record of this workload (0.2 trusted them, §11 #16).
/// </summary>
internal sealed class HostServicesClient(INatsConnection connection, string agentId, string ns, string workloadName)
{
    /// <summary>The agent's RPC timeout, as in 0.2.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Calls a method; transport failures come back as code 500 replies, never exceptions.</summary>
    /// <param name="service">The service.</param>
    /// <param name="method">The method.</param>
    /// <param name="headers">The call's headers (the function's).</param>
    /// <param name="body">The body.</param>
    /// <param name="trace">The trace context of the trigger this call belongs to (null: none, nothing is added).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<HostServiceReply> CallAsync(string service, string method, IReadOnlyDictionary<string, string>? headers, ReadOnlyMemory<byte> body, TraceContext? trace, CancellationToken cancellationToken)
    {
        string subject;
        try
        {
            subject = AgentSubjects.HostServicesRpc(agentId, ns, workloadName, service, method);
        }
        catch (ArgumentException ex)
        {
            // A service or method that is no subject token (a WASM module names them itself).
            return new HostServiceReply(400, ex.Message, default);
        }

        var natsHeaders = new NatsHeaders();
        foreach (var (key, value) in headers ?? new Dictionary<string, string>())
        {
            natsHeaders[key] = value;
        }

        trace?.CopyTo(natsHeaders);

        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(
                subject,
                body.ToArray(),
                natsHeaders,
                replyOpts: new NatsSubOpts { Timeout = Timeout },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            if (reply.HasNoResponders)
            {
                return new HostServiceReply(500, "host services are not available", default);
            }

            var code = reply.Headers is { } h && h.TryGetValue(HostServicesProtocol.CodeHeader, out var codeText)
                && int.TryParse(codeText.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : 500;
            var message = reply.Headers is { } hm && hm.TryGetValue(HostServicesProtocol.MessageHeader, out var messageText) ? messageText.ToString() : "no status from the node";
            return new HostServiceReply(code, message, reply.Data ?? []);
        }
        catch (NatsNoRespondersException)
        {
            return new HostServiceReply(500, "host services are not available", default);
        }
        catch (NatsNoReplyException)
        {
            return new HostServiceReply(500, $"host service {service}.{method} timed out after {Timeout.TotalSeconds:0}s", default);
        }
    }

    /// <summary>Calls a method and returns its result, or throws <see cref="HostServiceException"/>.</summary>
    public async Task<ReadOnlyMemory<byte>> InvokeAsync(string service, string method, IReadOnlyDictionary<string, string>? headers, ReadOnlyMemory<byte> body, TraceContext? trace, CancellationToken cancellationToken)
    {
        var reply = await CallAsync(service, method, headers, body, trace, cancellationToken).ConfigureAwait(false);
        return reply.IsSuccess ? reply.Body : throw new HostServiceException($"{reply.Message} ({reply.Code})", reply.Code);
    }
}
