using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using NATS.NKeys;

namespace Nex.Security;

/// <summary>
/// Encryption of a workload's environment for a deploy request (spec §2.2): the JSON of a
/// <c>map[string]string</c>, sealed in the NATS "xkv1" format (X25519 + XSalsa20-Poly1305, random nonce)
/// from the sender's XKey to the node's public XKey, carried as standard padded base64.
/// </summary>
public static class EnvironmentCipher
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Serialises <paramref name="env"/> as a JSON object (keys in ordinal order, like Go's
    /// <c>encoding/json</c>; null or empty gives <c>{}</c>), seals it and returns standard padded base64.
    /// </summary>
    /// <param name="env">The environment variables, or null.</param>
    /// <param name="senderCurve">The sender's curve key pair (seed <c>SX…</c>).</param>
    /// <param name="recipientPublicXkey">The node's public XKey (<c>X…</c>).</param>
    /// <returns>The base64 wire value for the deploy request's <c>environment</c> field.</returns>
    /// <exception cref="NexSecurityException">A key is not a valid curve key or sealing failed.</exception>
    public static string Encrypt(IReadOnlyDictionary<string, string>? env, KeyPair senderCurve, string recipientPublicXkey)
    {
        var json = SerializeEnvironment(env);
        return Convert.ToBase64String(Seal(json, senderCurve, recipientPublicXkey));
    }

    /// <summary>
    /// Decodes, opens and parses an encrypted environment. A JSON <c>null</c> plaintext (a nil Go map) gives an
    /// empty map. The returned map uses ordinal key comparison.
    /// </summary>
    /// <param name="base64">The standard base64 wire value.</param>
    /// <param name="recipientCurve">The node's curve key pair (with seed).</param>
    /// <param name="senderPublicXkey">The sender's public XKey from the request (<c>sender_public_key</c>).</param>
    /// <returns>The environment variables.</returns>
    /// <exception cref="NexSecurityException">
    /// Any failure; the message is the bare reason, e.g. <c>decryption failed</c> or
    /// <c>environment is not valid base64</c>.
    /// </exception>
    public static IReadOnlyDictionary<string, string> Decrypt(string? base64, KeyPair recipientCurve, string senderPublicXkey)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            throw new NexSecurityException("no encrypted environment supplied");
        }

        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(base64);
        }
        catch (FormatException ex)
        {
            throw new NexSecurityException("environment is not valid base64", ex);
        }

        return ParseEnvironment(Open(sealedBytes, recipientCurve, senderPublicXkey));
    }

    /// <summary>Seals raw bytes in the xkv1 format: <c>"xkv1"</c> ‖ 24-byte nonce ‖ crypto_box output.</summary>
    /// <param name="plaintext">The bytes to seal.</param>
    /// <param name="senderCurve">The sender's curve key pair (with seed).</param>
    /// <param name="recipientPublicXkey">The recipient's public XKey (<c>X…</c>).</param>
    /// <returns>The sealed bytes (44 bytes longer than the plaintext).</returns>
    /// <exception cref="NexSecurityException">A key is not a valid curve key or sealing failed.</exception>
    public static byte[] Seal(byte[] plaintext, KeyPair senderCurve, string recipientPublicXkey)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(senderCurve);
        if (senderCurve.Prefix != PrefixByte.Curve)
        {
            throw new NexSecurityException("sender key is not a curve (X) key");
        }

        if (!NKeyPrefixes.IsValid(recipientPublicXkey, PrefixByte.Curve))
        {
            throw new NexSecurityException("invalid recipient public xkey");
        }

        try
        {
            return XkvBox.Seal(plaintext, senderCurve, recipientPublicXkey);
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            throw new NexSecurityException("encryption failed", ex);
        }
    }

    /// <summary>Opens xkv1-sealed bytes.</summary>
    /// <param name="sealedData">The sealed bytes.</param>
    /// <param name="recipientCurve">The recipient's curve key pair (with seed).</param>
    /// <param name="senderPublicXkey">The sender's public XKey (<c>X…</c>).</param>
    /// <returns>The plaintext.</returns>
    /// <exception cref="NexSecurityException">
    /// A key is not a valid curve key, or the data is not xkv1, was tampered with or was sealed by/for another key
    /// (<c>decryption failed</c>).
    /// </exception>
    public static byte[] Open(byte[] sealedData, KeyPair recipientCurve, string senderPublicXkey)
    {
        ArgumentNullException.ThrowIfNull(sealedData);
        ArgumentNullException.ThrowIfNull(recipientCurve);
        if (recipientCurve.Prefix != PrefixByte.Curve)
        {
            throw new NexSecurityException("recipient key is not a curve (X) key");
        }

        if (!NKeyPrefixes.IsValid(senderPublicXkey, PrefixByte.Curve))
        {
            throw new NexSecurityException("invalid sender public xkey");
        }

        try
        {
            return XkvBox.Open(sealedData, recipientCurve, senderPublicXkey) ?? throw new NexSecurityException("decryption failed");
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            throw new NexSecurityException("decryption failed", ex);
        }
    }

    private static byte[] SerializeEnvironment(IReadOnlyDictionary<string, string>? env)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            if (env is not null)
            {
                foreach (var key in env.Keys.Order(StringComparer.Ordinal))
                {
                    var value = env[key] ?? throw new ArgumentException($"environment variable '{key}' has a null value", nameof(env));
                    writer.WriteString(key, value);
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static Dictionary<string, string> ParseEnvironment(byte[] plaintext)
    {
        const string NotAMap = "decrypted environment is not a JSON object of strings";
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(plaintext);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Null)
            {
                return result;
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new NexSecurityException(NotAMap);
            }

            foreach (var property in root.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    throw new NexSecurityException(NotAMap);
                }

                // Last duplicate wins, as in Go's encoding/json.
                result[property.Name] = property.Value.GetString()!;
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new NexSecurityException(NotAMap, ex);
        }
    }
}
