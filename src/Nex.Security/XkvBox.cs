using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using NATS.NKeys;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;
using Curve25519 = Org.BouncyCastle.Math.EC.Rfc7748.X25519;

namespace Nex.Security;

/// <summary>
/// The NATS "xkv1" seal (<c>"xkv1"</c> ‖ 24-byte nonce ‖ NaCl <c>crypto_box</c>) on BouncyCastle's X25519,
/// Salsa20/XSalsa20 and Poly1305, with the box key (X25519 then HSalsa20) kept per key pair.
/// </summary>
/// <remarks>
/// NATS.NKeys seals with a TweetNaCl port whose scalar multiplication took 1.4–3.8 ms per open on our
/// machines, on every deploy's hot path. BouncyCastle's X25519 is several times faster, and a deployer
/// seals with the same xkey again and again (the CLI's <c>~/.nex/publisher.xk</c>), so the precomputed
/// box key (NaCl's <c>crypto_box_beforenm</c>) makes a repeat open cost microseconds. The format and
/// results are NaCl's exactly (checked against the nkeys.js vectors).
/// </remarks>
internal static class XkvBox
{
    public const int HeaderLength = 4;
    public const int NonceLength = 24;
    public const int MacLength = 16;
    private const int MaxCachedKeys = 1024;
    private static readonly byte[] Header = "xkv1"u8.ToArray();
    private static readonly ConcurrentDictionary<(string Own, string Peer), byte[]> BoxKeys = new();

    /// <summary>Seals <paramref name="plaintext"/> from <paramref name="own"/> to <paramref name="peerPublic"/>.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> plaintext, KeyPair own, string peerPublic)
    {
        var key = BoxKey(own, peerPublic);
        var result = new byte[HeaderLength + NonceLength + MacLength + plaintext.Length];
        Header.CopyTo(result, 0);
        var nonce = result.AsSpan(HeaderLength, NonceLength);
        RandomNumberGenerator.Fill(nonce);
        var cipher = Stream(key, nonce, out var polyKey);
        var ciphertext = result.AsSpan(HeaderLength + NonceLength + MacLength);
        cipher.ProcessBytes(plaintext, ciphertext);
        Tag(polyKey, ciphertext, result.AsSpan(HeaderLength + NonceLength, MacLength));
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
        var mac = sealedData.Slice(HeaderLength + NonceLength, MacLength);
        var ciphertext = sealedData[(HeaderLength + NonceLength + MacLength)..];
        var cipher = Stream(key, nonce, out var polyKey);
        Span<byte> expected = stackalloc byte[MacLength];
        Tag(polyKey, ciphertext, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, mac))
        {
            return null;
        }

        var plaintext = new byte[ciphertext.Length];
        cipher.ProcessBytes(ciphertext, plaintext);
        return plaintext;
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
        var shared = new byte[32];
        try
        {
            Curve25519.ScalarMult(secret, 0, NKeyBytes.RawPublic(peerPublic), 0, shared, 0);
            var key = HSalsa20ZeroNonce(shared);
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
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    // HSalsa20 is the Salsa20 core without its final addition of the input. With an all-zero nonce and
    // counter, the input is the key and the constants: subtract them from Salsa20's first keystream block.
    private static byte[] HSalsa20ZeroNonce(byte[] key)
    {
        var salsa = new Salsa20Engine();
        salsa.Init(true, new ParametersWithIV(new KeyParameter(key), new byte[8]));
        Span<byte> block = stackalloc byte[64];
        salsa.ProcessBytes(new byte[64], block);
        ReadOnlySpan<uint> sigma = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
        ReadOnlySpan<int> words = [0, 5, 10, 15, 6, 7, 8, 9];
        var result = new byte[32];
        for (var i = 0; i < words.Length; i++)
        {
            var word = BinaryPrimitives.ReadUInt32LittleEndian(block[(words[i] * 4)..]);
            var input = i < 4 ? sigma[i] : 0u; // words 6–9 are the nonce and counter: zero
            BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(i * 4), word - input);
        }

        return result;
    }

    // secretbox: the first 32 bytes of the XSalsa20 stream are the Poly1305 key; the message is XORed with the rest.
    private static XSalsa20Engine Stream(byte[] key, ReadOnlySpan<byte> nonce, out byte[] polyKey)
    {
        var cipher = new XSalsa20Engine();
        cipher.Init(true, new ParametersWithIV(new KeyParameter(key), nonce.ToArray()));
        polyKey = new byte[32];
        cipher.ProcessBytes(new byte[32], polyKey);
        return cipher;
    }

    private static void Tag(byte[] polyKey, ReadOnlySpan<byte> ciphertext, Span<byte> tag)
    {
        var poly = new Poly1305();
        poly.Init(new KeyParameter(polyKey));
        poly.BlockUpdate(ciphertext);
        poly.DoFinal(tag);
        CryptographicOperations.ZeroMemory(polyKey);
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
