using System.Text.Json;

namespace Nex.Security.Tests;

/// <summary>The nkeys.js-generated vectors in vectors/nex-crypto-vectors.json.</summary>
internal static class Vectors
{
    public const string FileName = "nex-crypto-vectors.json";

    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "vectors", FileName))));

    public static JsonElement Root => Document.Value.RootElement;

    public static JsonElement Xkv1 => Root.GetProperty("xkv1");

    public static JsonElement Signing => Root.GetProperty("signing");

    public static JsonElement Jwt => Root.GetProperty("workload_jwt");

    public static string Str(this JsonElement e, string name) => e.GetProperty(name).GetString()!;

    /// <summary>The repository root (the directory holding Nex.slnx), or null.</summary>
    public static string? FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Nex.slnx")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
