using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// The host services RPC (spec §6): an agent requests
/// <see cref="AgentSubjects.HostServicesRpc"/> with the inputs in headers
/// and body; the node answers with <see cref="CodeHeader"/> and <see cref="MessageHeader"/> and the result as the body.
/// </summary>
public static class HostServicesProtocol
{
    /// <summary>Key-value service.</summary>
    public const string Kv = "kv";

    /// <summary>Object store service.</summary>
    public const string ObjectStore = "objectstore";

    /// <summary>Messaging service.</summary>
    public const string Messaging = "messaging";

    /// <summary>HTTP client service.</summary>
    public const string Http = "http";

    /// <summary>Request header: KV key.</summary>
    public const string KeyHeader = "x-keyvalue-key";

    /// <summary>Request header: messaging subject.</summary>
    public const string SubjectHeader = "x-subject";

    /// <summary>Request header: object name.</summary>
    public const string ObjectNameHeader = "x-object-name";

    /// <summary>Request header: full URL for HTTP, query string included.</summary>
    public const string UrlHeader = "x-http-url";

    /// <summary>Request header (Nex for .NET extension): HTTP request headers as a JSON object of
    /// name → value (a string, or an array of strings).</summary>
    public const string HttpHeadersHeader = "x-http-headers";

    /// <summary>Reply header: decimal status code (200 success, 400 bad input, 404 no such service, 500 failure).</summary>
    public const string CodeHeader = "x-nex-hs-code";

    /// <summary>Reply header: <c>OK</c> or the failure's real message (0.2 replaced it with <c>OK</c>, §11 #7).</summary>
    public const string MessageHeader = "x-nex-hs-msg";
}

/// <summary>Result of an HTTP host-service call (spec §6.3), the reply body.</summary>
public sealed record HttpServiceResult
{
    /// <summary>HTTP status.</summary>
    [JsonPropertyName("status")]
    public int Status { get; init; }

    /// <summary>Response headers, each with all its values.</summary>
    [JsonPropertyName("headers")]
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers
    {
        get;
        init => field = value ?? new Dictionary<string, IReadOnlyList<string>>();
    } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Response body as text (empty for HEAD).</summary>
    [JsonPropertyName("body")]
    public string Body { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Transport error, if any (omitempty).</summary>
    [JsonPropertyName("error")]
    [OmitEmpty]
    public string? Error { get; init; }
}
