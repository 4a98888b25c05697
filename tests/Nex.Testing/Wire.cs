using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using NATS.NKeys;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Testing;

/// <summary>Hand-made control requests, built from the spec rather than through Nex.Client.</summary>
public static class Wire
{
    /// <summary>Sends a request and returns the parsed reply, or null when nothing answers in time.</summary>
    public static async Task<JsonDocument?> RequestAsync(INatsConnection connection, string subject, string? body = null, TimeSpan? timeout = null)
    {
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(
                subject,
                body is null ? [] : Encoding.UTF8.GetBytes(body),
                replyOpts: new NatsSubOpts { Timeout = timeout ?? TimeSpan.FromSeconds(2) });
            return reply.HasNoResponders || reply.Data is null ? null : JsonDocument.Parse(reply.Data);
        }
        catch (NatsNoReplyException)
        {
            return null;
        }
        catch (NatsNoRespondersException)
        {
            return null;
        }
    }

    /// <summary>Sends a DEPLOY and returns (id, error); the reply is awaited up to <paramref name="timeout"/> (default 30 s).</summary>
    public static async Task<(string? Id, string? Error)> DeployAsync(INatsConnection connection, string nodeId, string body, string ns = "default", TimeSpan? timeout = null)
    {
        using var reply = await RequestAsync(connection, $"$NEX.DEPLOY.{ns}.{nodeId}", body, timeout ?? TimeSpan.FromSeconds(30))
            ?? throw new TimeoutException("no reply to DEPLOY");
        var root = reply.RootElement;
        return root.TryGetProperty("error", out var error)
            ? (null, error.GetString())
            : (root.GetProperty("data").GetProperty("id").GetString(), null);
    }

    /// <summary>The keys of a JSON object, sorted.</summary>
    public static string[] Keys(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];

    /// <summary>A complete DEPLOY request JSON, as the 0.2 CLI builds it, with overrides.</summary>
    public static string DeployJson(
        string nodeId,
        string nodeXkey,
        string name = "echoservice",
        string type = "native",
        KeyPair? issuer = null,
        IReadOnlyDictionary<string, string>? env = null,
        string location = "nats://NEXCLIFILES/echoservice",
        IReadOnlyList<string>? triggers = null,
        KeyPair? sender = null,
        string? recipientXkey = null,
        string? jwt = null,
        bool essential = false,
        IReadOnlyList<string>? argv = null)
    {
        issuer ??= NexKeys.CreateAccount();
        sender ??= NexKeys.CreateCurve();
        var request = new DeployRequest
        {
            Description = "hand-made",
            Type = type,
            Location = WorkloadLocation.Parse(location),
            Essential = essential,
            WorkloadJwt = jwt ?? WorkloadJwt.Issue(issuer, name, WorkloadJwt.PlaceholderHash, DateTimeOffset.UtcNow),
            Environment = EnvironmentCipher.Encrypt(env ?? new Dictionary<string, string>(), sender, recipientXkey ?? nodeXkey),
            JsDomain = "",
            SenderPublicKey = sender.GetPublicKey(),
            TargetNode = nodeId,
            TriggerSubjects = triggers,
            Argv = argv,
        };
        return JsonSerializer.Serialize(request, NexJson.Context.DeployRequest);
    }
}
