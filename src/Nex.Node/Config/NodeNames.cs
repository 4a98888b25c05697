using System.Security.Cryptography;

namespace Nex.Node.Config;

/// <summary>Random adjective-noun node names, as 0.2 gives nodes without a <c>node_name</c> tag.</summary>
internal static class NodeNames
{
    private static readonly string[] Adjectives =
    [
        "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively",
        "mighty", "nimble", "proud", "quick", "quiet", "shiny", "silly", "swift", "wise", "zesty",
    ];

    private static readonly string[] Nouns =
    [
        "otter", "falcon", "badger", "heron", "lynx", "marten", "osprey", "panda", "quokka", "raven",
        "salmon", "tapir", "urchin", "walrus", "yak", "zebra", "gecko", "ibis", "koala", "lemur",
    ];

    public static string Random() =>
        $"{Adjectives[RandomNumberGenerator.GetInt32(Adjectives.Length)]}-{Nouns[RandomNumberGenerator.GetInt32(Nouns.Length)]}";
}
