using System.Collections.Concurrent;
using System.Security.Cryptography;
using NATS.NKeys;

namespace Nex.Security;

/// <summary>
/// The NATS "xkv1" seal (<c>"xkv1"</c> ‖ 24-byte nonce ‖ NaCl <c>crypto_box</c>) on libsodium (<see cref="Libsodium"/>),
/// with the box key (X25519 then HSalsa20) kept per key pair.
/// </summary>
/// <remarks>
/// NATS.NKeys seals with a TweetNaCl port whose scalar multiplication took 1.4–3.8 ms per open on our
/// machines, on every deploy's hot path. libsodium's X25519 is far faster, and a deployer seals with the
/// same xkey again and again (the CLI's <c>~/.nex/publisher.xk</c>), so the precomputed box key (NaCl's
/// <c>crypto_box_beforenm</c>) makes a repeat open cost microseconds. The format and results are NaCl's
/// exactly (checked against the nkeys.js vectors, byte for byte).
/// </remarks>
internal static class XkvBox
{
    public const int HeaderLength = 4;
    public const int NonceLength = Libsodium.BoxNonceLength;
    public const int MacLength = Libsodium.BoxMacLength;
    private const int MaxCachedKeys = 1024;
    private static readonly byte[] Header = "xkv1"u8.ToArray();
    private static readonly ConcurrentDictionary<(string Own, string Peer), byte[]> BoxKeys = new();

    /// <summary>Seals <paramref name="plaintext"/> from <paramref name="own"/> to <paramref name="peerPublic"/>.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> plaintext, KeyPair own, string peerPublic)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        RandomNumberGenerator.Fill(nonce);
        return Seal(plaintext, own, peerPublic, nonce);
    }

    /// <summary>Seals with a given nonce: only for reproducing other implementations' output in tests.</summary>
    internal static byte[] Seal(ReadOnlySpan<byte> plaintext, KeyPair own, string peerPublic, ReadOnlySpan<byte> nonce)
    {
        var key = BoxKey(own, peerPublic);
        var result = new byte[HeaderLength + NonceLength + MacLength + plaintext.Length];
        Header.CopyTo(result, 0);
        nonce.CopyTo(result.AsSpan(HeaderLength, NonceLength));
        Libsodium.BoxSeal(result.AsSpan(HeaderLength + NonceLength), plaintext, nonce, key);
        return result;
    }

    /// <summary>Opens what <paramref name="peerPublic"/> sealed to <paramref name="own"/>; null when it is not
    /// xkv1, was tampered with, or was sealed by or for another key.</summary>
    public static byte[]? Open(ReadOnlySpan<byte> sealedData, KeyPair own, string peerPublic)
    {
        if (sealedData.Length < HeaderLength + NonceLength + MacLength || !sealedData[..HeaderLength].SequenceEqual(Header))
        {
            return null;
        }

        var key = BoxKey(own, peerPublic);
        var nonce = sealedData.Slice(HeaderLength, NonceLength);
        var boxed = sealedData[(HeaderLength + NonceLength)..];
        var plaintext = new byte[boxed.Length - MacLength];
        return Libsodium.TryBoxOpen(plaintext, boxed, nonce, key) ? plaintext : null;
    }

    // crypto_box_beforenm: HSalsa20(X25519(own secret, peer public), 0^16), once per key pair.
    private static byte[] BoxKey(KeyPair own, string peerPublic)
    {
        var ownPublic = own.GetPublicKey();
        if (BoxKeys.TryGetValue((ownPublic, peerPublic), out var cached))
        {
            return cached;
        }

        var secret = RawSeed(own);
        try
        {
            var key = new byte[Libsodium.BoxKeyLength];
            if (!Libsodium.TryBoxBeforeNm(key, NKeyBytes.RawPublic(peerPublic), secret))
            {
                // libsodium refuses a small-order peer key; NaCl, TweetNaCl (NATS.NKeys) and Go's nkeys carry on
                // with the all-zero X25519 result. Do as they do, so such a box still opens the same everywhere.
                Libsodium.HSalsa20(key, stackalloc byte[16], stackalloc byte[Libsodium.BoxKeyLength]);
            }

            if (BoxKeys.Count >= MaxCachedKeys)
            {
                BoxKeys.Clear();
            }

            BoxKeys[(ownPublic, peerPublic)] = key;
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static byte[] RawSeed(KeyPair kp)
    {
        // A seed is base32 of: two prefix bytes, the 32-byte private key, a CRC-16.
        var seed = kp.GetSeed();
        var decoded = new byte[Base32.GetDataLength(seed.AsSpan())];
        Base32.FromBase32(seed.AsSpan(), decoded);
        var raw = decoded.AsSpan(2, 32).ToArray();
        CryptographicOperations.ZeroMemory(decoded);
        return raw;
    }
}
