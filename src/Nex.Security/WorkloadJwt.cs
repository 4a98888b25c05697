using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NATS.NKeys;
using NSec.Cryptography;

namespace Nex.Security;

/// <summary>
/// Workload JWTs (spec §2.1): NATS JWT v2 "generic claims" signed with an NKey (Ed25519), whose
/// <c>sub</c> is the workload name and whose <c>nats</c> object carries the artifact <c>hash</c>.
/// </summary>
public static class WorkloadJwt
{
    /// <summary>The hash claim the stock Nex 0.2 CLI always sends instead of a real digest.</summary>
    public const string PlaceholderHash = "abc12345TODOmakethisreal";

    /// <summary>The workload name rule applied to <c>sub</c>, as shown in error messages.</summary>
    public const string NamePattern = "^[a-zA-Z0-9_-]+$";

    /// <summary>
    /// Longest workload name (a Nex for .NET limit; 0.2 had none). The name is a token of every log and
    /// event subject: a 4,100-character one made nats-server drop the node's connection. Equal to
    /// <c>Nex.Protocol.SubjectToken.MaxLength</c>.
    /// </summary>
    public const int MaxNameLength = 64;

    private const string DecodeFailurePrefix = "could not decode workload JWT: ";
    private const int SignatureLength = 64;

    private static readonly string EncodedHeader =
        Base64UrlText.Encode("{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}"u8);

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Issues a workload JWT: <c>{"jti","iat","iss","sub","nats":{"hash","version":2}}</c> (no <c>hash</c> when
    /// <paramref name="hash"/> is null, as in stop tokens), with <c>jti</c> = base32 (no padding) of the
    /// SHA-512/256 of the claims serialised with an empty <c>jti</c>. No <c>exp</c>/<c>nbf</c> is set.
    /// The result is deterministic for a given key, subject, hash and second.
    /// </summary>
    /// <param name="issuer">The signing key pair (with seed); the CLI uses an account key.</param>
    /// <param name="subject">The workload name.</param>
    /// <param name="hash">The <c>nats.hash</c> claim (e.g. <see cref="PlaceholderHash"/>), or null to omit it.</param>
    /// <param name="issuedAt">The issue time; truncated to whole Unix seconds for <c>iat</c>.</param>
    /// <returns>The compact JWT.</returns>
    /// <exception cref="NexSecurityException">The key pair cannot sign (no seed, or a curve key).</exception>
    public static string Issue(KeyPair issuer, string subject, string? hash, DateTimeOffset issuedAt)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentNullException.ThrowIfNull(subject);
        if (issuer.Prefix == PrefixByte.Curve)
        {
            throw new NexSecurityException("could not sign workload JWT: curve (X) keys cannot sign");
        }

        var iss = issuer.GetPublicKey();
        var iat = issuedAt.ToUnixTimeSeconds();
        var jti = Base32NoPadding.Encode(Sha512t256.Hash(SerializeClaims(string.Empty, iat, iss, subject, hash)));
        var signingInput = EncodedHeader + "." + Base64UrlText.Encode(SerializeClaims(jti, iat, iss, subject, hash));

        var signature = new byte[SignatureLength];
        try
        {
            issuer.Sign(Encoding.ASCII.GetBytes(signingInput), signature);
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            throw new NexSecurityException($"could not sign workload JWT: {CryptoFailures.Describe(ex)}", ex);
        }

        return signingInput + "." + Base64UrlText.Encode(signature);
    }

    /// <summary>
    /// Parses a workload JWT and verifies its signature against its <c>iss</c> (any signing NKey type).
    /// Unknown claims are ignored. No name or time checks are made; see <see cref="Validate"/>.
    /// </summary>
    /// <param name="jwt">The compact JWT.</param>
    /// <returns>The verified claims.</returns>
    /// <exception cref="NexSecurityException">Any failure: <c>could not decode workload JWT: &lt;reason&gt;</c>.</exception>
    public static WorkloadClaims Decode(string jwt)
    {
        try
        {
            return DecodeCore(jwt);
        }
        catch (NexSecurityException ex)
        {
            throw new NexSecurityException(DecodeFailurePrefix + ex.Message, ex);
        }
    }

    /// <summary>
    /// The node's validation of a deploy request's JWT: <see cref="Decode"/>, then the workload name rule
    /// (at most <see cref="MaxNameLength"/> characters, then <see cref="NamePattern"/>) on <c>sub</c>, then <c>exp</c> (must not be past) and <c>nbf</c> (must not be future).
    /// </summary>
    /// <param name="jwt">The compact JWT.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The verified claims.</returns>
    /// <exception cref="NexSecurityException">
    /// <c>could not decode workload JWT: …</c>,
    /// <c>workload name claim ('&lt;sub&gt;') does not match requirements (^[a-zA-Z0-9_-]+$)</c> or
    /// <c>standard claims within JWT are not valid</c>.
    /// </exception>
    public static WorkloadClaims Validate(string jwt, DateTimeOffset now)
    {
        var claims = Decode(jwt);
        if (claims.Sub.Length > MaxNameLength)
        {
            throw new NexSecurityException(
                $"workload name claim ('{claims.Sub[..MaxNameLength]}…') is {claims.Sub.Length} characters long; at most {MaxNameLength} are allowed");
        }

        if (!IsValidWorkloadName(claims.Sub))
        {
            throw new NexSecurityException(
                $"workload name claim ('{claims.Sub}') does not match requirements ({NamePattern})");
        }

        // Same semantics as nats-io/jwt ClaimsData.Validate: zero or negative means "not set".
        var seconds = now.ToUnixTimeSeconds();
        if (claims.Exp is > 0 and var exp && seconds > exp)
        {
            throw new NexSecurityException("standard claims within JWT are not valid");
        }

        if (claims.Nbf is > 0 and var nbf && nbf > seconds)
        {
            throw new NexSecurityException("standard claims within JWT are not valid");
        }

        return claims;
    }

    /// <summary>True when <paramref name="name"/> matches <see cref="NamePattern"/> (ASCII letters, digits, '_' and '-', non-empty)
    /// and has at most <see cref="MaxNameLength"/> characters.</summary>
    /// <param name="name">The candidate workload name.</param>
    /// <returns>Whether the name is acceptable.</returns>
    public static bool IsValidWorkloadName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True when <paramref name="hash"/> is a real SHA-256 digest (64 hexadecimal characters, either case),
    /// i.e. not the <see cref="PlaceholderHash"/>; the node verifies the artifact only then.
    /// </summary>
    /// <param name="hash">The hash claim.</param>
    /// <returns>Whether it is a 64-character hex string.</returns>
    public static bool IsRealDigest([NotNullWhen(true)] string? hash)
    {
        if (hash is not { Length: 64 })
        {
            return false;
        }

        foreach (var c in hash)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static WorkloadClaims DecodeCore(string jwt)
    {
        if (string.IsNullOrEmpty(jwt))
        {
            throw new NexSecurityException("token is empty");
        }

        var parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            throw new NexSecurityException("expected 3 chunks");
        }

        CheckHeader(DecodeSegment(parts[0], "header"));
        var claims = ParseClaims(DecodeSegment(parts[1], "claims"));
        var signature = DecodeSegment(parts[2], "signature");
        if (signature.Length != SignatureLength)
        {
            throw new NexSecurityException("invalid signature length");
        }

        Verify(claims.Iss, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature);
        return claims;
    }

    private static byte[] DecodeSegment(string segment, string what) =>
        Base64UrlText.TryDecode(segment, out var bytes)
            ? bytes
            : throw new NexSecurityException($"{what} segment is not valid base64url");

    private static void CheckHeader(byte[] header)
    {
        string? typ = null;
        string? alg = null;
        ParseObject(header, "header", property =>
        {
            switch (property.Name)
            {
                case "typ":
                    typ = GetString(property, "header");
                    break;
                case "alg":
                    alg = GetString(property, "header");
                    break;
            }
        });

        // As nats-io/jwt Header.Valid: typ "JWT" (any case); alg "ed25519-nkey" (v2) or "ed25519" (v1), any case.
        if (!string.Equals(typ, "JWT", StringComparison.OrdinalIgnoreCase))
        {
            throw new NexSecurityException($"not supported type \"{typ}\"");
        }

        if (!string.Equals(alg, "ed25519-nkey", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(alg, "ed25519", StringComparison.OrdinalIgnoreCase))
        {
            throw new NexSecurityException($"unexpected \"{alg}\" algorithm");
        }
    }

    private static WorkloadClaims ParseClaims(byte[] payload)
    {
        string jti = string.Empty;
        string iss = string.Empty;
        string sub = string.Empty;
        long iat = 0;
        long? exp = null;
        long? nbf = null;
        string? hash = null;

        // Last duplicate wins, as in Go's encoding/json.
        ParseObject(payload, "claims", property =>
        {
            switch (property.Name)
            {
                case "jti":
                    jti = GetString(property, "claims") ?? string.Empty;
                    break;
                case "iss":
                    iss = GetString(property, "claims") ?? string.Empty;
                    break;
                case "sub":
                    sub = GetString(property, "claims") ?? string.Empty;
                    break;
                case "iat":
                    iat = GetInt64(property) ?? 0;
                    break;
                case "exp":
                    exp = GetInt64(property);
                    break;
                case "nbf":
                    nbf = GetInt64(property);
                    break;
                case "nats":
                    hash = property.Value.ValueKind switch
                    {
                        JsonValueKind.Object => FindHash(property.Value),
                        JsonValueKind.Null => null,
                        _ => throw new NexSecurityException("invalid claims: 'nats' is not an object"),
                    };
                    break;
            }
        });

        if (iss.Length == 0)
        {
            throw new NexSecurityException("claims have no issuer");
        }

        return new WorkloadClaims(jti, iat, iss, sub, hash, exp, nbf);
    }

    private static string? FindHash(JsonElement nats)
    {
        string? hash = null;
        foreach (var property in nats.EnumerateObject())
        {
            if (property.NameEquals("hash"u8))
            {
                hash = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : null;
            }
        }

        return hash;
    }

    private static void ParseObject(byte[] json, string what, Action<JsonProperty> onProperty)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new NexSecurityException($"{what} {Verb(what)} not a JSON object");
            }

            foreach (var property in doc.RootElement.EnumerateObject())
            {
                onProperty(property);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new NexSecurityException($"{what} {Verb(what)} not valid JSON", ex);
        }
    }

    private static string Verb(string what) => what == "claims" ? "are" : "is";

    private static string? GetString(JsonProperty property, string what) => property.Value.ValueKind switch
    {
        JsonValueKind.String => property.Value.GetString(),
        JsonValueKind.Null => null,
        _ => throw new NexSecurityException($"invalid {what}: '{property.Name}' is not a string"),
    };

    private static long? GetInt64(JsonProperty property) => property.Value.ValueKind switch
    {
        JsonValueKind.Number when property.Value.TryGetInt64(out var value) => value,
        JsonValueKind.Null => null,
        _ => throw new NexSecurityException($"invalid claims: '{property.Name}' is not an integer"),
    };

    private static void Verify(string issuer, byte[] signingInput, byte[] signature)
    {
        // Any signing NKey type may issue (operator, account, user, server, cluster); curve keys cannot sign.
        if (issuer[0] == 'X')
        {
            throw new NexSecurityException("issuer is not a signing nkey");
        }

        try
        {
            // Parsed by NATS.NKeys for its prefix and checksum checks only.
            KeyPair.FromPublicKey(issuer).Dispose();
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            throw new NexSecurityException($"issuer is not a valid public nkey: {CryptoFailures.Describe(ex)}", ex);
        }

        // The signature is checked by libsodium (NSec): the same Ed25519, 3–5× faster than NATS.NKeys'
        // managed TweetNaCl (about 80 µs against 300–500 µs), and every deploy and stop pays it.
        var key = PublicKey.Import(SignatureAlgorithm.Ed25519, NKeyBytes.RawPublic(issuer), KeyBlobFormat.RawPublicKey);
        var valid = SignatureAlgorithm.Ed25519.Verify(key, signingInput, signature);

        if (!valid)
        {
            throw new NexSecurityException("claim failed V2 signature verification");
        }
    }

    private static byte[] SerializeClaims(string jti, long iat, string iss, string sub, string? hash)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("jti", jti);
            writer.WriteNumber("iat", iat);
            writer.WriteString("iss", iss);
            writer.WriteString("sub", sub);
            writer.WriteStartObject("nats");
            if (hash is not null)
            {
                writer.WriteString("hash", hash);
            }

            writer.WriteNumber("version", 2);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
