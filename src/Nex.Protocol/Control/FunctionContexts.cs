namespace Nex.Protocol;

/// <summary>
/// Values of the DEPLOY extension <c>function_context</c> (Nex for .NET; 0.2 nodes ignore it): how a V8
/// function's calls get their JavaScript context. <see cref="Fresh"/> (the default, as 0.2) gives every call a
/// context nobody used before; <see cref="Reuse"/> keeps one context per workload across calls, as Cloudflare
/// Workers and AWS Lambda do: globals persist between calls, and a call that fails leaves the next one a fresh context.
/// </summary>
public static class FunctionContexts
{
    /// <summary>A fresh context per call (0.2's isolation; the default).</summary>
    public const string Fresh = "fresh";

    /// <summary>One context reused across calls (v8 only).</summary>
    public const string Reuse = "reuse";

    /// <summary>True when <paramref name="value"/> asks for a reused context.</summary>
    /// <param name="value">The field's value (null or empty: fresh).</param>
    /// <returns>Whether calls share one context.</returns>
    public static bool IsReuse(string? value) => string.Equals(value, Reuse, StringComparison.Ordinal);

    /// <summary>Why <paramref name="value"/> is refused for a workload of <paramref name="type"/>, or null.</summary>
    /// <param name="value">The field's value (null or empty: absent, always fine).</param>
    /// <param name="type">The workload type.</param>
    /// <returns>One line, or null when accepted.</returns>
    public static string? Problem(string? value, string? type)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (value is not (Fresh or Reuse))
        {
            return $"Invalid deploy request: function_context '{SubjectToken.Shorten(value)}' is not one of '{Fresh}', '{Reuse}'";
        }

        // WASM instances are fresh per call by construction (a new instance from the pooling allocator);
        // a "reuse" we would silently ignore is refused instead.
        if (value == Reuse && !string.Equals(type, WorkloadTypes.V8, StringComparison.OrdinalIgnoreCase))
        {
            return $"Invalid deploy request: function_context '{Reuse}' applies to v8 functions only, not '{SubjectToken.Shorten(type ?? string.Empty)}'";
        }

        if (!WorkloadTypes.IsFunction(type))
        {
            return $"Invalid deploy request: function_context applies to function workloads (v8, wasm) only, not '{SubjectToken.Shorten(type ?? string.Empty)}'";
        }

        return null;
    }
}
