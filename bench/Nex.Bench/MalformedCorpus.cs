using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NATS.NKeys;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Bench;

/// <summary>One generated bad control request.</summary>
internal sealed record MalformedRequest(string Kind, string Subject, byte[] Body, string Label);

/// <summary>
/// Generates the malformed control requests of the campaign: bad bodies on every control subject, every
/// field of DEPLOY, STOP and AUCTION set to values of the wrong kind, bad JWTs, keys and environments, and
/// bad namespaces in the subject. Deterministic: the same settings give the same corpus.
/// </summary>
internal static partial class MalformedCorpus
{
    // Subject tokens stay under ~3,000 characters: a PUB line over 4,096 would close the campaign's own
    // connection, which is the server's business, not the node's.
    private static readonly string LongToken = new('n', 3000);

    /// <summary>Namespaces put in the subject of INFO, DEPLOY, STOP and WPING.</summary>
    public static IReadOnlyList<string> BadNamespaces { get; } =
        [">", "*", "a*b", "a>b", "$SYS", "$NEX", "_INBOX", "%", "a\u0001b", "ü", new string('x', 256), LongToken, "-", "a\\b", "\"q\""];

    /// <summary>Whole bodies that are not a request (sent on every subject).</summary>
    public static IReadOnlyList<(string Label, byte[] Body)> BadBodies(int scale)
    {
        var list = new List<(string, byte[])>
        {
            ("empty", []),
            ("not json", "hello"u8.ToArray()),
            ("open brace", "{"u8.ToArray()),
            ("array", "[]"u8.ToArray()),
            ("null", "null"u8.ToArray()),
            ("number", "-1"u8.ToArray()),
            ("string", "\"x\""u8.ToArray()),
            ("NUL bytes", [0, 0, 0]),
            ("invalid UTF-8", [0xff, 0xfe, 0x7b, 0x7d]),
            ("deep array (100k)", Encoding.ASCII.GetBytes(new string('[', 100_000))),
        };
        if (scale > 0)
        {
            list.AddRange(
            [
                ("close brace", "}"u8.ToArray()),
                ("true", "true"u8.ToArray()),
                ("empty object", "{}"u8.ToArray()),
                ("object then garbage", "{}garbage"u8.ToArray()),
                ("two objects", "{} {}"u8.ToArray()),
                ("trailing comma", "{\"a\":1,}"u8.ToArray()),
                ("comment", "/* c */{}"u8.ToArray()),
                ("BOM", [0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
                ("NUL key", Encoding.UTF8.GetBytes("{\"\\u0000\":1}")),
                ("lone surrogate", Encoding.UTF8.GetBytes("{\"a\":\"\\ud800\"}")),
                ("1e999", "1e999"u8.ToArray()),
                ("NaN", "NaN"u8.ToArray()),
                ("huge string (200 KB)", Encoding.ASCII.GetBytes("\"" + new string('a', 200_000) + "\"")),
                ("deep objects (5k)", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", 5000)) + "1" + new string('}', 5000))),
                ("balanced deep array (2k)", Encoding.ASCII.GetBytes(new string('[', 2000) + new string(']', 2000))),
                ("10k keys", Encoding.ASCII.GetBytes("{" + string.Join(',', Enumerable.Range(0, 10_000).Select(i => $"\"k{i}\":{i}")) + "}")),
                ("duplicate keys", "{\"type\":\"a\",\"type\":\"b\"}"u8.ToArray()),
                ("binary", [.. Enumerable.Range(0, 256).Select(i => (byte)i)]),
                ("spaces", "      "u8.ToArray()),
                ("base64 text", "eyJ0eXBlIjoibmF0aXZlIn0="u8.ToArray()),
            ]);
        }

        return list;
    }

    /// <summary>Values of the wrong kind (or absurd size) that each field is set to in turn.</summary>
    public static IReadOnlyList<(string Label, JsonNode? Value)> BadValues(int scale)
    {
        var list = new List<(string, JsonNode?)>
        {
            ("null", null),
            ("-1", JsonValue.Create(-1)),
            ("true", JsonValue.Create(true)),
            ("\"\"", JsonValue.Create("")),
            ("object", new JsonObject { ["a"] = 1 }),
            ("array", new JsonArray(1, "a")),
            ("4,100 chars", JsonValue.Create(new string('w', 4100))),
            ("NUL in string", JsonValue.Create("a\u0000b")),
        };
        if (scale > 0)
        {
            list.AddRange(
            [
                ("0", JsonValue.Create(0)),
                ("1.5", JsonValue.Create(1.5)),
                ("1e308", JsonValue.Create(1e308)),
                ("-2^63", JsonValue.Create(long.MinValue)),
                ("false", JsonValue.Create(false)),
                ("space", JsonValue.Create(" ")),
                ("x", JsonValue.Create("x")),
                ("100 KB string", JsonValue.Create(new string('h', 100_000))),
                ("empty object", new JsonObject()),
                ("empty array", new JsonArray()),
                ("array of strings", new JsonArray("a", "b")),
                ("nested 200", Nested(200)),
                ("$SYS", JsonValue.Create("$SYS")),
                (">", JsonValue.Create(">")),
                ("a*b", JsonValue.Create("a*b")),
                ("not base64", JsonValue.Create("not base64 !!")),
                ("unicode", JsonValue.Create("ü€😀")),
                ("newlines", JsonValue.Create("a\nb\r\nc")),
                ("nkey-like", JsonValue.Create("NABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRSTUVW")),
                ("url", JsonValue.Create("nats://127.0.0.1:1/x")),
            ]);
        }

        return list;
    }

    /// <summary>Every field path of <paramref name="node"/> (objects recursed), e.g. <c>location</c>, <c>location/bucket</c>.</summary>
    public static IEnumerable<string> FieldPaths(JsonObject node, string prefix = "")
    {
        foreach (var (key, value) in node)
        {
            var path = prefix + key;
            yield return path;
            if (value is JsonObject child)
            {
                foreach (var inner in FieldPaths(child, path + "/"))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary><paramref name="template"/> with the field at <paramref name="path"/> set to <paramref name="value"/>.</summary>
    public static byte[] WithField(JsonObject template, string path, JsonNode? value)
    {
        var copy = (JsonObject)template.DeepClone();
        var parts = path.Split('/');
        var target = copy;
        foreach (var part in parts[..^1])
        {
            target = (JsonObject)target[part]!;
        }

        target[parts[^1]] = value?.DeepClone();
        return Encoding.UTF8.GetBytes(copy.ToJsonString());
    }

    /// <summary><paramref name="template"/> without the field at <paramref name="path"/>.</summary>
    public static byte[] WithoutField(JsonObject template, string path)
    {
        var copy = (JsonObject)template.DeepClone();
        var parts = path.Split('/');
        var target = copy;
        foreach (var part in parts[..^1])
        {
            target = (JsonObject)target[part]!;
        }

        target.Remove(parts[^1]);
        return Encoding.UTF8.GetBytes(copy.ToJsonString());
    }

    /// <summary>Workload JWTs that must not pass: forged, unsigned, of bad names, from the wrong key kind.</summary>
    public static IReadOnlyList<(string Label, string Jwt)> BadJwts(KeyPair issuer, string name, string? hash)
    {
        var now = DateTimeOffset.UtcNow;
        var good = WorkloadJwt.Issue(issuer, name, hash, now);
        var parts = good.Split('.');
        using var other = KeyPair.CreatePair(PrefixByte.Account);
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var list = new List<(string, string)>
        {
            ("garbage", "not.a.jwt"),
            ("one part", "abc"),
            ("empty parts", ".."),
            ("bad base64", "!!!.@@@.###"),
            ("signature removed", parts[0] + "." + parts[1] + "."),
            ("alg none", B64("{\"typ\":\"JWT\",\"alg\":\"none\"}") + "." + parts[1] + "."),
            ("tampered claims", parts[0] + "." + B64(Encoding.UTF8.GetString(Convert.FromBase64String(Pad(parts[1].Replace('-', '+').Replace('_', '/')))).Replace(name, name + "x")) + "." + parts[2]),
            ("signed by another account", WorkloadJwt.Issue(other, name, hash, now)),
            ("issued in 2100", WorkloadJwt.Issue(issuer, name, hash, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero))),
            ("issued in 1970", WorkloadJwt.Issue(issuer, name, hash, DateTimeOffset.FromUnixTimeSeconds(1))),
            ("claims not JSON", parts[0] + "." + B64("not json") + "." + parts[2]),
            ("claims array", parts[0] + "." + B64("[]") + "." + parts[2]),
            ("huge", parts[0] + "." + new string('A', 200_000) + "." + parts[2]),
        };
        foreach (var bad in new[] { "", ">", "a.b", "a*b", "$SYS", "a b", "a\u0000b", "ü", new string('n', 4100), new string('n', 256) })
        {
            list.Add(($"name {Describe(bad)}", SafeIssue(issuer, bad, hash, now)));
        }

        try
        {
            list.Add(("signed by a user key", WorkloadJwt.Issue(user, name, hash, now)));
        }
        catch (NexSecurityException)
        {
            // The library refuses to sign with a user key: nothing to send.
        }

        return list;
    }

    public static string Describe(string value) => value.Length > 24 ? $"<{value.Length} chars>" : JsonSerializer.Serialize(value);

    public static string Short(byte[] body) => body.Length > 60 ? $"<{body.Length} bytes>" : Encoding.UTF8.GetString(body).Replace("\0", "\\0", StringComparison.Ordinal);

    private static string SafeIssue(KeyPair issuer, string name, string? hash, DateTimeOffset now)
    {
        try
        {
            return WorkloadJwt.Issue(issuer, name, hash, now);
        }
        catch (Exception ex) when (ex is NexSecurityException or ArgumentException)
        {
            // The library will not issue it: hand-craft the same claims, signed.
            var header = B64("{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}");
            var claims = B64(new JsonObject { ["jti"] = Guid.NewGuid().ToString("N"), ["iat"] = now.ToUnixTimeSeconds(), ["iss"] = issuer.GetPublicKey(), ["sub"] = name, ["nats"] = new JsonObject { ["hash"] = hash } }.ToJsonString());
            var signature = new byte[64];
            issuer.Sign(Encoding.ASCII.GetBytes(header + "." + claims), signature);
            return header + "." + claims + "." + Convert.ToBase64String(signature).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        }
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Pad(string s) => s + new string('=', (4 - (s.Length % 4)) % 4);

    private static JsonNode Nested(int depth)
    {
        JsonNode node = JsonValue.Create(1);
        for (var i = 0; i < depth; i++)
        {
            node = new JsonArray(node);
        }

        return node;
    }
}

/// <summary>Sorts a control reply into a <see cref="ReplyCategory"/>.</summary>
internal static partial class ReplyClassifier
{
    /// <summary>Classifies the raw reply body of a control request.</summary>
    public static (ReplyCategory Category, string? Error) Classify(ReadOnlySpan<byte> reply)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(reply.ToArray());
        }
        catch (JsonException)
        {
            return (ReplyCategory.LeakyError, "reply is not JSON: " + Encoding.UTF8.GetString(reply[..Math.Min(reply.Length, 200)]));
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (ReplyCategory.LeakyError, "reply is not an envelope");
            }

            if (document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String && error.GetString() is { Length: > 0 } text)
            {
                return (IsLeaky(text) ? ReplyCategory.LeakyError : ReplyCategory.ClearError, text);
            }

            return (ReplyCategory.Accepted, null);
        }
    }

    /// <summary>Whether an error text leaks .NET internals or is not one short line.</summary>
    public static bool IsLeaky(string text) => LeakReason(text) is not null;

    /// <summary>Why an error text counts as leaky (the first reason that applies), or null when it is clear.</summary>
    public static string? LeakReason(string text) =>
        text.Contains('\n', StringComparison.Ordinal) ? "several lines"
        : JsonPosition().IsMatch(text) ? "System.Text.Json's message (Path/LineNumber/BytePositionInLine)"
        : TypeName().IsMatch(text) ? ".NET type or exception name"
        : InternalWords().IsMatch(text) ? "\"internal error\" / \"unexpected error\""
        : text.Length > 600 ? "over 600 characters (input echoed back)"
        : LeakPattern().IsMatch(text) ? "other .NET text"
        : null;

    [GeneratedRegex(@"LineNumber:|BytePositionInLine|isFinalBlock|Change the reader options|maximum configured depth", RegexOptions.CultureInvariant)]
    private static partial Regex JsonPosition();

    [GeneratedRegex(@"`\d|\bSystem\.[A-Z]|\bNex\.[A-Z]\w+\.|\bMicrosoft\.[A-Z]|\b[A-Z]\w*Exception\b", RegexOptions.CultureInvariant)]
    private static partial Regex TypeName();

    [GeneratedRegex(@"[Ii]nternal error|[Uu]nexpected error", RegexOptions.CultureInvariant)]
    private static partial Regex InternalWords();

    [GeneratedRegex(@"`\d|\bSystem\.[A-Z]|\bNex\.[A-Z]\w+\.|\bMicrosoft\.[A-Z]|\b[A-Z]\w*Exception\b|\bat [A-Z][\w.]+\(|[Ii]nternal error|[Uu]nexpected error|LineNumber:|BytePositionInLine|Object reference not set|Parameter '", RegexOptions.CultureInvariant)]
    private static partial Regex LeakPattern();
}
