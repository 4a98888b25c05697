using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Nex.Protocol;

/// <summary>
/// A <see cref="NexJsonContext"/> whose metadata passes through <see cref="NexJson.OmitEmptyModifier"/>.
/// </summary>
/// <remarks>
/// A context binds the options it is constructed with to itself, so a modifier cannot be chained onto those
/// options afterwards. Instead this subclass re-implements <see cref="IJsonTypeInfoResolver"/>: it asks a plain
/// generated context for the metadata (bound to this context's options) and applies the modifier, so the
/// inherited generated properties (<c>Context.PingResponse</c>, …) carry the Go semantics.
/// </remarks>
internal sealed class GoSemanticsJsonContext : NexJsonContext, IJsonTypeInfoResolver
{
    private static readonly IJsonTypeInfoResolver Generated = new NexJsonContext();

    public GoSemanticsJsonContext(JsonSerializerOptions options)
        : base(options)
    {
    }

    JsonTypeInfo? IJsonTypeInfoResolver.GetTypeInfo(Type type, JsonSerializerOptions options)
    {
        var typeInfo = Generated.GetTypeInfo(type, options);
        if (typeInfo is not null)
        {
            NexJson.OmitEmptyModifier(typeInfo);
        }

        return typeInfo;
    }
}
