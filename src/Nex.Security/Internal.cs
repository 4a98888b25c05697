using System.Buffers.Text;
using System.Text;
using NATS.NKeys;

namespace Nex.Security;

/// <summary>Failure classification for exceptions thrown by NATS.NKeys and the decoders it uses.</summary>
internal static class CryptoFailures
{
    /// <summary>
    /// True for the exception types NATS.NKeys (and the base64/base32 decoders) throw on bad input.
    /// NATS.NKeys is not consistent: it throws <see cref="NKeysException"/>, <see cref="ArgumentException"/>
    /// or <see cref="IndexOutOfRangeException"/> depending on how the input is malformed.
    /// </summary>
    public static bool IsBadInput(Exception ex) =>
        ex is NKeysException or ArgumentException or IndexOutOfRangeException or FormatException
            or InvalidOperationException or OverflowException;

    /// <summary>A short description of a bad-input failure.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        IndexOutOfRangeException => "malformed key",
        _ => ex.Message,
    };
}

/// <summary>NKey prefix helpers.</summary>
internal static class NKeyPrefixes
{
    /// <summary>Maps a public-key prefix character to the NATS.NKeys prefix.</summary>
    public static PrefixByte? FromChar(char prefix) => prefix switch
    {
        'O' => PrefixByte.Operator,
        'A' => PrefixByte.Account,
        'U' => PrefixByte.User,
        'N' => PrefixByte.Server,
        'C' => PrefixByte.Cluster,
        'X' => PrefixByte.Curve,
        _ => null,
    };

    /// <summary>True when <paramref name="key"/> is a well-formed public NKey whose prefix is <paramref name="prefix"/>.</summary>
    public static bool IsValid(string? key, PrefixByte prefix)
    {
        if (string.IsNullOrEmpty(key))
        {
            return false;
        }

        try
        {
            return KeyPair.IsValidPublicKey(prefix, key);
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            return false;
        }
    }
}

/// <summary>The raw bytes inside NKey strings.</summary>
internal static class NKeyBytes
{
    /// <summary>The 32-byte key inside a public NKey that <see cref="KeyPair.FromPublicKey"/> accepted.</summary>
    public static byte[] RawPublic(string key)
    {
        // A public key is base32 of: one prefix byte, the 32-byte key, a CRC-16.
        var decoded = new byte[Base32.GetDataLength(key.AsSpan())];
        Base32.FromBase32(key.AsSpan(), decoded);
        return decoded.AsSpan(1, 32).ToArray();
    }
}

/// <summary>RFC 4648 base32 (standard alphabet) without padding, as used for NATS JWT <c>jti</c>.</summary>
internal static class Base32NoPadding
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    public static string Encode(ReadOnlySpan<byte> data)
    {
        var sb = new StringBuilder(((data.Length * 8) + 4) / 5);
        var buffer = 0;
        var bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }

            buffer &= (1 << bits) - 1;
        }

        if (bits > 0)
        {
            sb.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return sb.ToString();
    }
}

/// <summary>SHA-512/256 (FIPS 180-4: SHA-512 from its own initial hash value, truncated to 256 bits), on libsodium.</summary>
internal static class Sha512t256
{
    // FIPS 180-4 §5.3.6.2, the SHA-512/256 initial hash value H(0).
    private static ReadOnlySpan<ulong> InitialState =>
    [
        0x22312194FC2BF72C, 0x9F555FA3C84C64C2, 0x2393B86B6F53B151, 0x963877195940EABD,
        0x96283EE2A88EFFE3, 0xBE5E1E2553863992, 0x2B0199FC2C85B8AA, 0x0EB72DDC81C52CA2,
    ];

    public static byte[] Hash(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[64];
        Libsodium.Sha512(digest, data, InitialState);
        return digest[..32].ToArray();
    }
}

/// <summary>Base64url helpers (RFC 4648 §5).</summary>
internal static class Base64UrlText
{
    private static readonly System.Buffers.SearchValues<char> Alphabet =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    /// <summary>Encodes without padding.</summary>
    public static string Encode(ReadOnlySpan<byte> data) => Base64Url.EncodeToString(data);

    /// <summary>Decodes base64url text (padding optional); returns false when it is not valid base64url.</summary>
    public static bool TryDecode(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0)
        {
            return true;
        }

        // Strict alphabet (no whitespace, no '+' or '/'); trailing '=' padding is tolerated.
        if (text.AsSpan().TrimEnd('=').ContainsAnyExcept(Alphabet) || !Base64Url.IsValid(text, out var length))
        {
            return false;
        }

        var buffer = new byte[length];
        if (!Base64Url.TryDecodeFromChars(text, buffer, out var written))
        {
            return false;
        }

        bytes = written == length ? buffer : buffer[..written];
        return true;
    }
}
