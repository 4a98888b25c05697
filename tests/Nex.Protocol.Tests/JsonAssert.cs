using System.Text;
using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests;

internal static class JsonAssert
{
    public static void EquivalentJson(string expected, string actual)
    {
        using var e = JsonDocument.Parse(expected);
        using var a = JsonDocument.Parse(actual);
        Assert.True(JsonElement.DeepEquals(e.RootElement, a.RootElement), $"JSON differs.\nExpected: {expected}\nActual:   {actual}");
    }

    public static void EquivalentJson(string expected, byte[] actual) => EquivalentJson(expected, Encoding.UTF8.GetString(actual));

    public static string[] PropertyNames(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateObject().Select(p => p.Name)];
    }

    public static JsonElement Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
