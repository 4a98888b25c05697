using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Nex.Protocol;

/// <summary>
/// Turns System.Text.Json's errors into one line in our words: the JSON path and the expected JSON type,
/// never a .NET type name (users write JSON, not C#).
/// </summary>
public static partial class JsonErrors
{
    /// <summary>
    /// Describes <paramref name="exception"/> as e.g. <c>trigger_subjects must be an array of strings</c>, or
    /// <c>invalid JSON: …</c> for syntax errors; the position is left to the caller.
    /// </summary>
    /// <param name="exception">The serializer's exception.</param>
    /// <returns>One line.</returns>
    /// <param name="root">The type that was read; when given, the expected type is that of the field at the
    /// error's path (the serializer sometimes names the enclosing record instead).</param>
    public static string Describe(JsonException exception, JsonTypeInfo? root = null)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var field = FieldName(exception.Path);
        var message = exception.Message;
        if (ConvertedTo().Match(message) is { Success: true } conversion)
        {
            var expected = Expected(TypeAt(root, exception.Path)?.ToString() ?? conversion.Groups[1].Value);
            return field.Length == 0 ? $"the document must be {expected}" : $"{field} must be {expected}";
        }

        // Syntax errors: "'x' is an invalid start of a value. LineNumber: 0 | BytePositionInLine: 3."
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        var text = cut > 0 ? message[..cut] : message;
        cut = text.IndexOf(" LineNumber:", StringComparison.Ordinal);
        text = (cut > 0 ? text[..cut] : text).TrimEnd('.', ' ');
        cut = text.IndexOf(". ", StringComparison.Ordinal);
        text = cut > 0 ? text[..cut] : text; // the first sentence says it; the rest is about the reader's API
        text = DotNetType().Replace(text, m => Expected(m.Value));
        return field.Length == 0 ? $"invalid JSON: {text}" : $"{field}: {text}";
    }

    /// <summary>A JSON path such as <c>$.tags.x</c> or <c>$['a b']</c> as a field name (<c>tags.x</c>); empty for the root.</summary>
    /// <param name="path">The path, or null.</param>
    /// <returns>The field name.</returns>
    public static string FieldName(string? path) => string.IsNullOrEmpty(path) ? string.Empty : path.TrimStart('$').TrimStart('.');

    // The declared type of the member at a JSON path such as $.a.b[0], through the serializer's metadata.
    private static Type? TypeAt(JsonTypeInfo? root, string? path)
    {
        if (root is null || string.IsNullOrEmpty(path))
        {
            return null;
        }

        var info = root;
        Type? type = null;
        foreach (var segment in path.TrimStart('$').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bracket = segment.IndexOf('[', StringComparison.Ordinal);
            var name = bracket < 0 ? segment : segment[..bracket];
            var property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                return null;
            }

            type = property.PropertyType;
            if (bracket >= 0)
            {
                type = ElementType(type);
                if (type is null)
                {
                    return null;
                }
            }

            info = info.Options.GetTypeInfo(type);
        }

        return type;
    }

    private static Type? ElementType(Type type) =>
        type.IsArray ? type.GetElementType()
        : type.IsGenericType && type.GetGenericArguments() is { Length: 1 } args ? args[0]
        : null;

    private static string Expected(string dotNetType)
    {
        var type = dotNetType.Trim();
        if (type.EndsWith("[]", StringComparison.Ordinal) || type.Contains("List`1", StringComparison.Ordinal) || type.Contains("Enumerable`1", StringComparison.Ordinal) || type.Contains("Collection`1", StringComparison.Ordinal))
        {
            return type.Contains("System.String", StringComparison.Ordinal) ? "an array of strings" : "an array";
        }

        if (type.Contains("Dictionary`2", StringComparison.Ordinal))
        {
            return type.EndsWith("System.String]", StringComparison.Ordinal) ? "an object of string values" : "an object";
        }

        return type switch
        {
            "System.String" => "a string",
            "System.Boolean" => "true or false",
            "System.Int32" or "System.Int64" or "System.Int16" or "System.Byte" or "System.SByte" => "an integer",
            "System.UInt32" or "System.UInt64" or "System.UInt16" => "a non-negative integer",
            "System.Double" or "System.Single" or "System.Decimal" => "a number",
            "System.DateTime" or "System.DateTimeOffset" => "an RFC 3339 time string",
            "System.TimeSpan" => "a duration string",
            _ when type.StartsWith("System.Nullable`1[", StringComparison.Ordinal) => Expected(type["System.Nullable`1[".Length..^1]) + " or null",
            _ => "an object",
        };
    }

    [GeneratedRegex(@"could not be converted to ([^ ]+?)\.?(?: Path| LineNumber|$)", RegexOptions.CultureInvariant)]
    private static partial Regex ConvertedTo();

    [GeneratedRegex(@"\b(?:System|Nex)\.[A-Za-z0-9_.`\[\],]+", RegexOptions.CultureInvariant)]
    private static partial Regex DotNetType();
}
