using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// JSON converter for <see cref="WorkloadLocation"/> (spec §1.8.1). Writes Go's <c>url.URL</c> struct shape;
/// reads that object with any key casing (other keys ignored) or a plain URL string. <c>null</c> reads as
/// <see cref="WorkloadLocation.Empty"/>.
/// </summary>
internal sealed class WorkloadLocationJsonConverter : JsonConverter<WorkloadLocation>
{
    public override bool HandleNull => true;

    public override WorkloadLocation Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return WorkloadLocation.Empty;
            case JsonTokenType.String:
                var text = reader.GetString() ?? string.Empty;
                if (!WorkloadLocation.TryParse(text, out var parsed, out var error))
                {
                    throw new JsonException($"invalid workload location \"{SubjectToken.Shorten(text)}\": {error}");
                }

                return parsed;
            case JsonTokenType.StartObject:
                return ReadObject(ref reader);
            default:
                throw new JsonException($"Cannot unmarshal {reader.TokenType} into a workload location; expected an object or a URL string.");
        }
    }

    public override void Write(Utf8JsonWriter writer, WorkloadLocation value, JsonSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStartObject();
        writer.WriteString("Scheme", value.Scheme);
        writer.WriteString("Opaque", string.Empty);
        writer.WriteNull("User");
        writer.WriteString("Host", value.Host);
        writer.WriteString("Path", value.Path);
        writer.WriteString("RawPath", string.Empty);
        writer.WriteBoolean("OmitHost", false);
        writer.WriteBoolean("ForceQuery", false);
        writer.WriteString("RawQuery", string.Empty);
        writer.WriteString("Fragment", string.Empty);
        writer.WriteString("RawFragment", string.Empty);
        writer.WriteEndObject();
    }

    private static WorkloadLocation ReadObject(ref Utf8JsonReader reader)
    {
        string scheme = string.Empty, host = string.Empty, path = string.Empty;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return new WorkloadLocation { Scheme = scheme, Host = host, Path = path };
            }

            var name = reader.GetString() ?? string.Empty;
            reader.Read();
            if (name.Equals("Scheme", StringComparison.OrdinalIgnoreCase))
            {
                scheme = ReadString(ref reader, "Scheme");
            }
            else if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                host = ReadString(ref reader, "Host");
            }
            else if (name.Equals("Path", StringComparison.OrdinalIgnoreCase))
            {
                path = ReadString(ref reader, "Path");
            }
            else
            {
                reader.Skip();
            }
        }

        throw new JsonException("Unexpected end of JSON inside a workload location.");
    }

    private static string ReadString(ref Utf8JsonReader reader, string field) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString() ?? string.Empty,
        JsonTokenType.Null => string.Empty,
        _ => throw new JsonException($"Cannot unmarshal {reader.TokenType} into workload location field {field} of type string."),
    };
}
