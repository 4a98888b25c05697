using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Nex.Protocol;

/// <summary>A CloudEvents 1.0 structured JSON event as published on <c>$NEX.events.&lt;ns&gt;.&lt;type&gt;</c> (spec §7.1).</summary>
public sealed record CloudEvent
{
    /// <summary>The CloudEvents spec version this type writes.</summary>
    public const string CurrentSpecVersion = "1.0";

    /// <summary>The data content type this type writes.</summary>
    public const string JsonContentType = "application/json";

    /// <summary>CloudEvents <c>specversion</c>.</summary>
    [JsonPropertyName("specversion")]
    public string SpecVersion { get; init => field = value ?? string.Empty; } = CurrentSpecVersion;

    /// <summary>Event id (a UUIDv4).</summary>
    [JsonPropertyName("id")]
    public string Id { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Event source: the node id, or <c>&lt;node&gt;-&lt;vmid&gt;</c> for forwarded agent events.</summary>
    [JsonPropertyName("source")]
    public string Source { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Event type (see <see cref="EventTypes"/>).</summary>
    [JsonPropertyName("type")]
    public string Type { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>Data content type, <c>application/json</c> (omitted when empty).</summary>
    [JsonPropertyName("datacontenttype")]
    [OmitEmpty]
    public string DataContentType { get; init => field = value ?? string.Empty; } = JsonContentType;

    /// <summary>Event time, written RFC 3339 in UTC with fractional seconds.</summary>
    [JsonPropertyName("time")]
    public DateTimeOffset Time { get; init; }

    /// <summary>The <c>namespace</c> extension the node adds to forwarded agent events (omitted when null or empty).</summary>
    [JsonPropertyName("namespace")]
    [OmitEmpty]
    public string? Namespace { get; init; }

    /// <summary>The event payload (omitted only when undefined).</summary>
    [JsonPropertyName("data")]
    [OmitEmpty]
    public JsonElement Data { get; init; }

    /// <summary>Creates an event with a fresh UUIDv4 id and the given payload.</summary>
    /// <typeparam name="T">Payload type.</typeparam>
    /// <param name="source">Event source.</param>
    /// <param name="type">Event type.</param>
    /// <param name="time">Event time.</param>
    /// <param name="data">Payload.</param>
    /// <param name="typeInfo">Payload metadata, e.g. <c>NexJson.Context.HeartbeatEvent</c>.</param>
    /// <param name="ns">Optional <c>namespace</c> extension.</param>
    /// <returns>The event.</returns>
    public static CloudEvent Create<T>(string source, string type, DateTimeOffset time, T data, JsonTypeInfo<T> typeInfo, string? ns = null)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return new CloudEvent
        {
            Id = Guid.NewGuid().ToString("D"),
            Source = source,
            Type = type,
            Time = time,
            Namespace = ns,
            Data = JsonSerializer.SerializeToElement(data, typeInfo),
        };
    }

    /// <summary>Decodes <see cref="Data"/>; returns default when there is no data or it is <c>null</c>.</summary>
    /// <typeparam name="T">Payload type.</typeparam>
    /// <param name="typeInfo">Payload metadata.</param>
    /// <returns>The payload.</returns>
    /// <exception cref="JsonException">The data does not match <typeparamref name="T"/>.</exception>
    public T? GetData<T>(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return Data.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? default : Data.Deserialize(typeInfo);
    }
}
