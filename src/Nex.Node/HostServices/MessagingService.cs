using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Node.Telemetry;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>The <c>messaging</c> host service: publish, request, requestMany (spec §6.3, §6.4). Uses the
/// trigger connection when the deploy request gave one, so traffic stays in the trigger's subject space.
/// Every subject is checked against <see cref="MessagingPermissions"/> first (system subjects never pass).</summary>
internal sealed class MessagingService(INatsConnection connection, TimeSpan requestTimeout, TimeSpan requestManyTimeout, MessagingPermissions permissions) : IHostService
{
    /// <summary>Default for both timeouts: 750 ms, which 0.2 meant but never applied (spec §11 #11).</summary>
    public const int DefaultTimeoutMs = 750;

    /// <summary>Optional request header capping the number of replies requestMany collects.</summary>
    public const string MaxMessagesHeader = "x-max-messages";

    public TimeSpan RequestTimeout => requestTimeout;

    public TimeSpan RequestManyTimeout => requestManyTimeout;

    public MessagingPermissions Permissions => permissions;

    /// <summary>Builds the service from its <c>config</c>.</summary>
    /// <exception cref="ArgumentException">The allow or deny list is malformed (the node config
    /// loader refuses such a file before it gets here).</exception>
    public static MessagingService From(INatsConnection connection, JsonElement? config)
    {
        var permissions = MessagingPermissions.Parse(config, out var error);
        if (error is not null)
        {
            throw new ArgumentException($"host_services.services.messaging.config: {error}");
        }

        return new(
            connection,
            Millis(ServiceSettings.Int64(config, "request_timeout_ms", DefaultTimeoutMs)),
            Millis(ServiceSettings.Int64(config, "request_many_timeout_ms", DefaultTimeoutMs)),
            permissions);
    }

    public async Task<HostServiceResponse> HandleAsync(string method, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        if (method is not ("publish" or "request" or "requestMany"))
        {
            return HostServiceResponse.UnknownMethod(HostServicesProtocol.Messaging, method);
        }

        var subject = ServiceSettings.Header(headers, HostServicesProtocol.SubjectHeader);
        if (subject is null)
        {
            return HostServiceResponse.Fail(HostServiceResponse.BadRequest, "subject is required");
        }

        if (permissions.Check(subject) is { } refused)
        {
            return HostServiceResponse.Fail(refused.Code, refused.Message);
        }

        return method switch
        {
            "publish" => await PublishAsync(subject, Trace(headers), body, ct).ConfigureAwait(false),
            "request" => await RequestAsync(subject, Trace(headers), body, ct).ConfigureAwait(false),
            _ => await RequestManyAsync(subject, headers, Trace(headers), body, ct).ConfigureAwait(false),
        };
    }

    // The function's trace goes on with its messages, as in 0.2: the host-service call's span, or the caller's context.
    private static NatsHeaders? Trace(IReadOnlyDictionary<string, string> headers)
    {
        NatsHeaders? trace = null;
        NodeTracing.Inject(Activity.Current is { } span && ReferenceEquals(span.Source, NodeTracing.Source) ? span : null, headers, ref trace);
        return trace;
    }

    private async Task<HostServiceResponse> PublishAsync(string subject, NatsHeaders? trace, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        await connection.PublishAsync(subject, body.ToArray(), trace, cancellationToken: ct).ConfigureAwait(false);
        return HostServiceResponse.Ok(ReplyJson.Success());
    }

    private async Task<HostServiceResponse> RequestAsync(string subject, NatsHeaders? trace, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(
                subject,
                body.ToArray(),
                trace,
                replyOpts: new NatsSubOpts { Timeout = requestTimeout },
                cancellationToken: ct).ConfigureAwait(false);
            if (reply.HasNoResponders)
            {
                return NoResponders(subject);
            }

            return HostServiceResponse.Ok(reply.Data ?? []);
        }
        catch (NatsNoRespondersException)
        {
            return NoResponders(subject);
        }
        catch (NatsNoReplyException)
        {
            return HostServiceResponse.Fail(HostServiceResponse.Failure, $"failed to send request: no reply on {subject} within {requestTimeout.TotalMilliseconds:0} ms");
        }
    }

    private async Task<HostServiceResponse> RequestManyAsync(string subject, IReadOnlyDictionary<string, string> headers, NatsHeaders? trace, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        int? maxMessages = null;
        if (ServiceSettings.Header(headers, MaxMessagesHeader) is { } max)
        {
            if (!int.TryParse(max, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
            {
                return HostServiceResponse.Fail(HostServiceResponse.BadRequest, $"{MaxMessagesHeader} must be a positive integer, got '{max}'");
            }

            maxMessages = n;
        }

        var replies = new List<byte[]>();
        var noResponders = false;
        var opts = new NatsSubOpts { Timeout = requestManyTimeout, MaxMsgs = maxMessages, StopOnEmptyMsg = false, ThrowIfNoResponders = false };
        await foreach (var reply in connection.RequestManyAsync<byte[], byte[]>(subject, body.ToArray(), trace, replyOpts: opts, cancellationToken: ct).ConfigureAwait(false))
        {
            if (reply.HasNoResponders)
            {
                noResponders = true;
                break;
            }

            replies.Add(reply.Data ?? []);
        }

        if (noResponders && replies.Count == 0)
        {
            return NoResponders(subject);
        }

        return HostServiceResponse.Ok(ReplyJson.Write(w =>
        {
            w.WriteStartArray();
            foreach (var reply in replies)
            {
                w.WriteBase64StringValue(reply);
            }

            w.WriteEndArray();
        }));
    }

    private static HostServiceResponse NoResponders(string subject) =>
        HostServiceResponse.Fail(HostServiceResponse.Failure, $"failed to send request: no responders on {subject}");

    private static TimeSpan Millis(long ms) => TimeSpan.FromMilliseconds(ms > 0 ? ms : DefaultTimeoutMs);
}
