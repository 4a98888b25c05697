using System.Text.Json;

namespace Nex.Node.HostServices;

/// <summary>Reads a host service's raw <c>config</c> JSON leniently: a missing or mistyped key takes its default.</summary>
internal static class ServiceSettings
{
    public static string String(JsonElement? config, string name, string fallback) =>
        TryGet(config, name, out var value) && value.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(value.GetString())
            ? value.GetString()!
            : fallback;

    public static long Int64(JsonElement? config, string name, long fallback)
    {
        if (!TryGet(config, name, out var value))
        {
            return fallback;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number))
        {
            return number;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var real))
        {
            return (long)real;
        }

        return fallback;
    }

    public static bool Boolean(JsonElement? config, string name, bool fallback) =>
        TryGet(config, name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : fallback;

    /// <summary>
    /// A list of strings, read strictly because it guards access: absent or null is empty, anything
    /// but an array of non-empty strings is an error (one line), never silently the default.
    /// </summary>
    public static IReadOnlyList<string> StringList(JsonElement? config, string name, out string? error)
    {
        error = null;
        if (!TryGet(config, name, out var value) || value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            error = $"{name} must be an array of strings";
            return [];
        }

        var list = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
            {
                error = $"{name} must be an array of non-empty strings";
                return [];
            }

            list.Add(item.GetString()!.Trim());
        }

        return list;
    }

    /// <summary>Replaces <c>${namespace}</c> and <c>${workload_name}</c>, case-insensitively (spec §6.4).</summary>
    public static string BucketName(string template, HostServiceCaller caller) =>
        template
            .Replace("${namespace}", caller.Namespace, StringComparison.OrdinalIgnoreCase)
            .Replace("${workload_name}", caller.WorkloadName, StringComparison.OrdinalIgnoreCase);

    /// <summary>A request header, exact name first, then case-insensitively; null when absent or empty.</summary>
    public static string? Header(IReadOnlyDictionary<string, string> headers, string name)
    {
        if (headers.TryGetValue(name, out var value))
        {
            return string.IsNullOrEmpty(value) ? null : value;
        }

        foreach (var (key, v) in headers)
        {
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                return string.IsNullOrEmpty(v) ? null : v;
            }
        }

        return null;
    }

    private static bool TryGet(JsonElement? config, string name, out JsonElement value)
    {
        value = default;
        return config is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty(name, out value);
    }
}
