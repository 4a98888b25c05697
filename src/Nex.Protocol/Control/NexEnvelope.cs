using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Nex.Protocol;

/// <summary>The outcome of parsing a control-plane reply envelope.</summary>
/// <typeparam name="T">The payload type.</typeparam>
/// <param name="Type">The envelope <c>type</c>, when present.</param>
/// <param name="Data">The decoded payload; <see langword="null"/> when <paramref name="Error"/> is set.</param>
/// <param name="Error">A failure reason: the node's <c>error</c> text or a parse problem. Null on success.</param>
public sealed record EnvelopeResult<T>(string? Type, T? Data, string? Error)
{
    /// <summary>True when there is no error.</summary>
    public bool IsSuccess => Error is null;
}

/// <summary>
/// Reads and writes the control-plane reply envelope (spec §1.1):
/// <c>{"type": …, "data": …}</c> on success and <c>{"type": …, "data": "", "error": …}</c> on failure.
/// </summary>
public static class NexEnvelope
{
    private const string ParseErrorPrefix = "invalid response envelope: ";

    /// <summary>Writes a success envelope <c>{"type":…,"data":…}</c>.</summary>
    /// <typeparam name="T">Payload type.</typeparam>
    /// <param name="type">Response type (see <see cref="ResponseTypes"/>).</param>
    /// <param name="data">Payload.</param>
    /// <param name="typeInfo">Payload metadata, e.g. <c>NexJson.Context.PingResponse</c>.</param>
    /// <returns>UTF-8 JSON bytes.</returns>
    public static byte[] Success<T>(string type, T data, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(typeInfo);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions(typeInfo.Options)))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WritePropertyName("data");
            JsonSerializer.Serialize(writer, data, typeInfo);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes a failure envelope exactly like Go: <c>{"type":…,"data":"","error":…}</c>.</summary>
    /// <param name="type">Response type (see <see cref="ResponseTypes"/>).</param>
    /// <param name="error">Human-readable reason.</param>
    /// <returns>UTF-8 JSON bytes.</returns>
    public static byte[] Failure(string type, string error)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(error);
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions(NexJson.Options)))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteString("data", string.Empty);
            writer.WriteString("error", error);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Parses a reply envelope. Never throws on bad input: problems are reported through
    /// <see cref="EnvelopeResult{T}.Error"/> (prefixed <c>invalid response envelope: </c>). A non-empty
    /// <c>error</c> field makes the reply a failure even when <c>data</c> is present.
    /// </summary>
    /// <typeparam name="T">Payload type.</typeparam>
    /// <param name="json">The reply body.</param>
    /// <param name="typeInfo">Payload metadata, e.g. <c>NexJson.Context.PingResponse</c>.</param>
    /// <returns>The type, the payload or the error.</returns>
    public static EnvelopeResult<T> Parse<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (json.IsEmpty)
        {
            return new EnvelopeResult<T>(null, default, ParseErrorPrefix + "empty reply");
        }

        string? type = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            using var document = JsonDocument.ParseValue(ref reader);
            if (reader.Read())
            {
                return new EnvelopeResult<T>(null, default, ParseErrorPrefix + $"unexpected data after the top-level value at byte {reader.TokenStartIndex}");
            }

            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new EnvelopeResult<T>(null, default, ParseErrorPrefix + $"expected a JSON object but found {root.ValueKind}");
            }

            JsonElement? data = null;
            string? error = null;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name.Equals("type", StringComparison.OrdinalIgnoreCase))
                {
                    type = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
                    if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                    {
                        return new EnvelopeResult<T>(null, default, ParseErrorPrefix + $"field \"type\" must be a string, not {property.Value.ValueKind}");
                    }
                }
                else if (property.Name.Equals("data", StringComparison.OrdinalIgnoreCase))
                {
                    data = property.Value;
                }
                else if (property.Name.Equals("error", StringComparison.OrdinalIgnoreCase))
                {
                    error = property.Value.ValueKind switch
                    {
                        JsonValueKind.Null => null,
                        JsonValueKind.String => property.Value.GetString(),
                        _ => property.Value.GetRawText(),
                    };
                }
            }

            if (!string.IsNullOrEmpty(error))
            {
                return new EnvelopeResult<T>(type, default, error);
            }

            if (data is not { } payload || payload.ValueKind == JsonValueKind.Null)
            {
                return new EnvelopeResult<T>(type, default, ParseErrorPrefix + "the reply has no data");
            }

            if (payload.ValueKind == JsonValueKind.String && payload.ValueEquals(string.Empty))
            {
                return new EnvelopeResult<T>(type, default, ParseErrorPrefix + "the reply has empty data and no error");
            }

            var value = payload.Deserialize(typeInfo);
            return value is null
                ? new EnvelopeResult<T>(type, default, ParseErrorPrefix + "the reply has no data")
                : new EnvelopeResult<T>(type, value, null);
        }
        catch (JsonException ex)
        {
            return new EnvelopeResult<T>(type, default, ParseErrorPrefix + ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            return new EnvelopeResult<T>(type, default, ParseErrorPrefix + ex.Message);
        }
        catch (NotSupportedException ex)
        {
            return new EnvelopeResult<T>(type, default, ParseErrorPrefix + ex.Message);
        }
        catch (FormatException ex)
        {
            return new EnvelopeResult<T>(type, default, ParseErrorPrefix + ex.Message);
        }
    }

    private static JsonWriterOptions WriterOptions(JsonSerializerOptions options) => new()
    {
        Encoder = options.Encoder ?? JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };
}
