using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Nex.Protocol;

/// <summary>
/// The configured JSON entry point for every Nex wire type: Go-compatible encoding and decoding through
/// source-generated (AOT-safe) metadata.
/// </summary>
/// <remarks>
/// <para>Writing: properties marked <see cref="OmitEmptyAttribute"/> are left out when they hold a Go zero value;
/// pointer-like properties are left out when null; everything else is always written. Timestamps are RFC 3339
/// in UTC. Only the characters JSON requires are escaped (so <c>INFO+2</c> stays readable).</para>
/// <para>Reading is lenient like Go's <c>encoding/json</c>: property names match case-insensitively and
/// unknown properties are ignored. Values of the wrong JSON type (for example <c>"type": 5</c>, or a number
/// written as a string) fail with a <see cref="JsonException"/>.</para>
/// Usage: <c>JsonSerializer.Serialize(value, NexJson.Context.PingResponse)</c>.
/// </remarks>
public static class NexJson
{
    private static readonly GoSemanticsJsonContext ContextInstance = CreateContext();

    /// <summary>
    /// The source-generated context with Go <c>omitempty</c> semantics applied to all its type metadata.
    /// Use its properties (e.g. <c>NexJson.Context.DeployRequest</c>) with the <see cref="JsonSerializer"/>
    /// overloads that take a <see cref="JsonTypeInfo{T}"/>.
    /// </summary>
    public static NexJsonContext Context => ContextInstance;

    /// <summary>The read-only options whose resolver is <see cref="Context"/>.</summary>
    public static JsonSerializerOptions Options => ContextInstance.Options;

    /// <summary>
    /// The contract modifier that implements Go <c>omitempty</c> for properties marked
    /// <see cref="OmitEmptyAttribute"/>. Other source-generated contexts can reuse it via
    /// <see cref="JsonTypeInfoResolver.WithAddedModifier"/>.
    /// </summary>
    /// <param name="typeInfo">The metadata to adjust.</param>
    public static void OmitEmptyModifier(JsonTypeInfo typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (typeInfo.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in typeInfo.Properties)
        {
            if (property.AttributeProvider?.IsDefined(typeof(OmitEmptyAttribute), inherit: true) == true)
            {
                property.ShouldSerialize = static (_, value) => !GoZeroValue.IsEmpty(value);
            }
        }
    }

    private static GoSemanticsJsonContext CreateContext()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNameCaseInsensitive = true,
            NumberHandling = JsonNumberHandling.Strict,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
            ReadCommentHandling = JsonCommentHandling.Disallow,
            AllowTrailingCommas = false,
            WriteIndented = false,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new Rfc3339NanoConverter());
        var context = new GoSemanticsJsonContext(options);
        options.MakeReadOnly();
        return context;
    }
}
