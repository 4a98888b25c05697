using System.Runtime.InteropServices;

namespace Nex.Security;

/// <summary>
/// The few libsodium functions Nex needs that NSec does not expose: NaCl's <c>crypto_box</c> (X25519, HSalsa20,
/// XSalsa20-Poly1305) for xkv1, and SHA-512 with a caller-set initial state for SHA-512/256. libsodium is the
/// native library NSec ships (NuGet <c>libsodium</c>, <c>runtimes/&lt;rid&gt;/native</c>) and imports by the same
/// name, so the process holds one copy.
/// </summary>
internal static partial class Libsodium
{
    /// <summary>Bytes in a precomputed box key (<c>crypto_box_BEFORENMBYTES</c>), a public key and a secret key.</summary>
    public const int BoxKeyLength = 32;

    /// <summary><c>crypto_box_NONCEBYTES</c>.</summary>
    public const int BoxNonceLength = 24;

    /// <summary><c>crypto_box_MACBYTES</c>: the Poly1305 tag in front of the ciphertext.</summary>
    public const int BoxMacLength = 16;

    // NSec's import name: both resolve to the same file through the app's deps.json.
    private const string Library = "libsodium";

    // crypto_hash_sha512_state from libsodium's public header: uint64_t state[8]; uint64_t count[2]; uint8_t buf[128].
    private const int Sha512StateWords = 26;

    // sodium_init is idempotent and thread-safe; NSec calls it too, but we must not depend on NSec having run first.
    static Libsodium()
    {
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium could not be initialised");
        }
    }

    /// <summary>
    /// <c>crypto_box_beforenm</c>: the box key HSalsa20(X25519(<paramref name="ownSecret"/>, <paramref name="peerPublic"/>), 0).
    /// False (and <paramref name="key"/> untouched) when the peer key has small order, so the X25519 result is all zero.
    /// </summary>
    public static bool TryBoxBeforeNm(Span<byte> key, ReadOnlySpan<byte> peerPublic, ReadOnlySpan<byte> ownSecret)
    {
        CheckLength(key, BoxKeyLength);
        CheckLength(peerPublic, BoxKeyLength);
        CheckLength(ownSecret, BoxKeyLength);
        return crypto_box_beforenm(ref MemoryMarshal.GetReference(key), in MemoryMarshal.GetReference(peerPublic), in MemoryMarshal.GetReference(ownSecret)) == 0;
    }

    /// <summary><c>crypto_core_hsalsa20</c> with the standard constants: the box key of an all-zero X25519 result.</summary>
    public static void HSalsa20(Span<byte> output, ReadOnlySpan<byte> input, ReadOnlySpan<byte> key)
    {
        CheckLength(output, BoxKeyLength);
        CheckLength(input, 16);
        CheckLength(key, BoxKeyLength);
        _ = crypto_core_hsalsa20(ref MemoryMarshal.GetReference(output), in MemoryMarshal.GetReference(input), in MemoryMarshal.GetReference(key), 0);
    }

    /// <summary><c>crypto_box_easy_afternm</c>: writes the tag then the ciphertext of <paramref name="message"/> to <paramref name="boxed"/>.</summary>
    public static void BoxSeal(Span<byte> boxed, ReadOnlySpan<byte> message, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        CheckLength(boxed, BoxMacLength + message.Length);
        CheckLength(nonce, BoxNonceLength);
        CheckLength(key, BoxKeyLength);
        _ = crypto_box_easy_afternm(
            ref MemoryMarshal.GetReference(boxed), in MemoryMarshal.GetReference(message), (ulong)message.Length,
            in MemoryMarshal.GetReference(nonce), in MemoryMarshal.GetReference(key));
    }

    /// <summary><c>crypto_box_open_easy_afternm</c>: false when the tag does not verify (nothing is decrypted then).</summary>
    public static bool TryBoxOpen(Span<byte> message, ReadOnlySpan<byte> boxed, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        if (boxed.Length < BoxMacLength)
        {
            return false;
        }

        CheckLength(message, boxed.Length - BoxMacLength);
        CheckLength(nonce, BoxNonceLength);
        CheckLength(key, BoxKeyLength);
        return crypto_box_open_easy_afternm(
            ref MemoryMarshal.GetReference(message), in MemoryMarshal.GetReference(boxed), (ulong)boxed.Length,
            in MemoryMarshal.GetReference(nonce), in MemoryMarshal.GetReference(key)) == 0;
    }

    /// <summary>
    /// SHA-512 of <paramref name="data"/> started from <paramref name="initialState"/> instead of SHA-512's own:
    /// FIPS 180-4's SHA-512/t functions are exactly that, truncated. Writes all 64 bytes to <paramref name="digest"/>.
    /// </summary>
    public static void Sha512(Span<byte> digest, ReadOnlySpan<byte> data, ReadOnlySpan<ulong> initialState)
    {
        CheckLength(digest, 64);
        if (initialState.Length != 8)
        {
            throw new ArgumentException($"expected 8 state words, got {initialState.Length}");
        }

        // We write the state's first words ourselves: refuse a libsodium whose state is not the header's layout.
        if (crypto_hash_sha512_statebytes() != Sha512StateWords * sizeof(ulong))
        {
            throw new InvalidOperationException("libsodium's SHA-512 state is not the documented layout");
        }

        Span<ulong> state = stackalloc ulong[Sha512StateWords]; // ulong: libsodium reads it as uint64_t, aligned
        _ = crypto_hash_sha512_init(ref state[0]);
        initialState.CopyTo(state);
        _ = crypto_hash_sha512_update(ref state[0], in MemoryMarshal.GetReference(data), (ulong)data.Length);
        _ = crypto_hash_sha512_final(ref state[0], ref MemoryMarshal.GetReference(digest));
    }

    // libsodium reads and writes exactly the lengths its constants say: a short span would be memory corruption.
    private static void CheckLength(ReadOnlySpan<byte> span, int expected)
    {
        if (span.Length != expected)
        {
            throw new ArgumentException($"expected {expected} bytes, got {span.Length}");
        }
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_box_beforenm(ref byte k, in byte pk, in byte sk);

    [LibraryImport(Library)]
    private static partial int crypto_core_hsalsa20(ref byte output, in byte input, in byte k, nint c);

    [LibraryImport(Library)]
    private static partial int crypto_box_easy_afternm(ref byte c, in byte m, ulong mlen, in byte n, in byte k);

    [LibraryImport(Library)]
    private static partial int crypto_box_open_easy_afternm(ref byte m, in byte c, ulong clen, in byte n, in byte k);

    [LibraryImport(Library)]
    private static partial nuint crypto_hash_sha512_statebytes();

    [LibraryImport(Library)]
    private static partial int crypto_hash_sha512_init(ref ulong state);

    [LibraryImport(Library)]
    private static partial int crypto_hash_sha512_update(ref ulong state, in byte input, ulong inlen);

    [LibraryImport(Library)]
    private static partial int crypto_hash_sha512_final(ref ulong state, ref byte output);
}
