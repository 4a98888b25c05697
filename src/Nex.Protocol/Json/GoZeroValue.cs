using System.Collections;
using System.Text.Json;

namespace Nex.Protocol;

/// <summary>Go "zero value" test used to implement <c>omitempty</c>.</summary>
internal static class GoZeroValue
{
    /// <summary>True when <paramref name="value"/> is what Go's <c>omitempty</c> would leave out.</summary>
    public static bool IsEmpty(object? value) => value switch
    {
        null => true,
        string s => s.Length == 0,
        bool b => !b,
        int i => i == 0,
        long l => l == 0,
        uint u => u == 0,
        ulong ul => ul == 0,
        short sh => sh == 0,
        ushort us => us == 0,
        byte by => by == 0,
        sbyte sb => sb == 0,
        double d => d == 0,
        float f => f == 0,
        decimal m => m == 0,
        TimeSpan ts => ts == TimeSpan.Zero,
        JsonElement e => e.ValueKind == JsonValueKind.Undefined,
        ICollection c => c.Count == 0,
        IEnumerable en => !HasAny(en),
        _ => false,
    };

    private static bool HasAny(IEnumerable enumerable)
    {
        var enumerator = enumerable.GetEnumerator();
        try
        {
            return enumerator.MoveNext();
        }
        finally
        {
            (enumerator as IDisposable)?.Dispose();
        }
    }
}
