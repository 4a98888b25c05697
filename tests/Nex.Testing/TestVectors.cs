using System.Text.Json;

namespace Nex.Testing;

/// <summary>The crypto vectors made by nkeys.js (an independent implementation).</summary>
public static class TestVectors
{
    public static JsonElement Load() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Examples.RepositoryRoot, "tests", "Nex.Security.Tests", "vectors", "nex-crypto-vectors.json"))).RootElement.Clone();
}
