using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>Agent → node handshake on <c>hostint.&lt;id&gt;.handshake</c> (spec §5.3).</summary>
public sealed record HandshakeRequest
{
    /// <summary>The agent/workload id.</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>When the agent started (RFC 3339).</summary>
    [JsonPropertyName("start_time")]
    public DateTimeOffset StartTime { get; init; }

    /// <summary>The metadata message, e.g. <c>Host-supplied metadata</c>.</summary>
    [JsonPropertyName("message")]
    public string Message { get; init => field = value ?? string.Empty; } = string.Empty;
}

/// <summary>The node's handshake reply: the empty object <c>{}</c>.</summary>
public sealed record HandshakeResponse;
