using System.Buffers;
using System.Text;
using System.Text.Json;
using Nex.Protocol;

namespace Nex.Agent.Providers.V8;

/// <summary>A host-service reply turned into what the prelude's <c>take</c> hands over (the JS value's parts).</summary>
/// <param name="Error">The message the call throws, or null on success.</param>
/// <param name="Bytes">Bytes to hand over as a Uint8Array (kinds bytes and many).</param>
/// <param name="Text">Text to hand over (JSON kinds; the lengths array for many).</param>
internal sealed record V8HostResult(string? Error, byte[]? Bytes, string? Text)
{
    /// <summary>A failed call: it throws <c>Error(message)</c>.</summary>
    /// <param name="message">The message.</param>
    /// <returns>The result.</returns>
    public static V8HostResult Failed(string message) => new(message, null, null);

    /// <summary>Converts a successful reply body for <paramref name="kind"/>.</summary>
    /// <param name="kind">One of the <c>V8Prelude.Kind*</c> constants.</param>
    /// <param name="body">The reply body.</param>
    /// <returns>The result.</returns>
    public static V8HostResult FromReply(int kind, ReadOnlyMemory<byte> body) => kind switch
    {
        V8Prelude.KindBytes => new V8HostResult(null, body.ToArray(), null),
        V8Prelude.KindJsonList or V8Prelude.KindJsonObject => new V8HostResult(null, null, Encoding.UTF8.GetString(body.Span)),
        V8Prelude.KindHttp => FromHttp(body),
        V8Prelude.KindMany => FromMany(body),
        _ => new V8HostResult(null, null, null),
    };

    /// <summary>
    /// The node's <see cref="HttpServiceResult"/> → the JS value <c>{ status, headers: { name: "v1, v2" },
    /// response }</c> as JSON text (<c>response</c> left out when the body is empty, so it reads undefined).
    /// </summary>
    private static V8HostResult FromHttp(ReadOnlyMemory<byte> body)
    {
        var result = JsonSerializer.Deserialize(body.Span, NexJson.Context.HttpServiceResult)
            ?? throw new V8FunctionException("failed to complete HTTP request: empty reply");
        if (!string.IsNullOrEmpty(result.Error))
        {
            return new V8HostResult($"failed to complete HTTP request: {result.Error}", null, null);
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("status", result.Status);
            writer.WriteStartObject("headers");
            foreach (var (name, values) in result.Headers)
            {
                writer.WriteString(name, string.Join(", ", values));
            }

            writer.WriteEndObject();
            if (result.Body.Length > 0)
            {
                writer.WriteString("response", result.Body);
            }

            writer.WriteEndObject();
        }

        return new V8HostResult(null, null, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>A JSON array of base64 strings → all bytes concatenated plus the JSON array of lengths.</summary>
    private static V8HostResult FromMany(ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body.Length == 0 ? "[]"u8.ToArray() : body);
        var all = new List<byte>();
        var lengths = new StringBuilder("[");
        foreach (var item in document.RootElement.EnumerateArray())
        {
            var bytes = item.GetBytesFromBase64();
            all.AddRange(bytes);
            if (lengths.Length > 1)
            {
                lengths.Append(',');
            }

            lengths.Append(bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        lengths.Append(']');
        return new V8HostResult(null, [.. all], lengths.ToString());
    }
}
