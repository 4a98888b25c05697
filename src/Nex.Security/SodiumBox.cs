using System.Runtime.InteropServices;

namespace Nex.Security;

/// <summary>
/// NaCl's <c>crypto_box</c> (X25519, HSalsa20, XSalsa20-Poly1305) from libsodium: the native library that NSec
/// ships (NuGet <c>libsodium</c>, <c>runtimes/&lt;rid&gt;/native</c>) and imports by the same name, so the process
/// holds one copy. NSec exposes no XSalsa20-Poly1305 box, hence these few direct imports.
/// </summary>
internal static partial class SodiumBox
{
    /// <summary>Bytes in a precomputed box key (<c>crypto_box_BEFORENMBYTES</c>), a public key and a secret key.</summary>
    public const int KeyLength = 32;

    /// <summary><c>crypto_box_NONCEBYTES</c>.</summary>
    public const int NonceLength = 24;

    /// <summary><c>crypto_box_MACBYTES</c>: the Poly1305 tag in front of the ciphertext.</summary>
    public const int MacLength = 16;

    // NSec's import name: both resolve to the same file through the app's deps.json.
    private const string Library = "libsodium";

    // sodium_init is idempotent and thread-safe; NSec calls it too, but we must not depend on NSec having run first.
    static SodiumBox()
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
    public static bool TryBeforeNm(Span<byte> key, ReadOnlySpan<byte> peerPublic, ReadOnlySpan<byte> ownSecret)
    {
        CheckLength(key, KeyLength);
        CheckLength(peerPublic, KeyLength);
        CheckLength(ownSecret, KeyLength);
        return crypto_box_beforenm(ref MemoryMarshal.GetReference(key), in MemoryMarshal.GetReference(peerPublic), in MemoryMarshal.GetReference(ownSecret)) == 0;
    }

    /// <summary><c>crypto_core_hsalsa20</c> with the standard constants: the box key of an all-zero X25519 result.</summary>
    public static void HSalsa20(Span<byte> output, ReadOnlySpan<byte> input, ReadOnlySpan<byte> key)
    {
        CheckLength(output, KeyLength);
        CheckLength(input, 16);
        CheckLength(key, KeyLength);
        _ = crypto_core_hsalsa20(ref MemoryMarshal.GetReference(output), in MemoryMarshal.GetReference(input), in MemoryMarshal.GetReference(key), 0);
    }

    /// <summary><c>crypto_box_easy_afternm</c>: writes the tag then the ciphertext of <paramref name="message"/> to <paramref name="boxed"/>.</summary>
    public static void Seal(Span<byte> boxed, ReadOnlySpan<byte> message, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        CheckLength(boxed, MacLength + message.Length);
        CheckLength(nonce, NonceLength);
        CheckLength(key, KeyLength);
        _ = crypto_box_easy_afternm(
            ref MemoryMarshal.GetReference(boxed), in MemoryMarshal.GetReference(message), (ulong)message.Length,
            in MemoryMarshal.GetReference(nonce), in MemoryMarshal.GetReference(key));
    }

    /// <summary><c>crypto_box_open_easy_afternm</c>: false when the tag does not verify (nothing is decrypted then).</summary>
    public static bool TryOpen(Span<byte> message, ReadOnlySpan<byte> boxed, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        if (boxed.Length < MacLength)
        {
            return false;
        }

        CheckLength(message, boxed.Length - MacLength);
        CheckLength(nonce, NonceLength);
        CheckLength(key, KeyLength);
        return crypto_box_open_easy_afternm(
            ref MemoryMarshal.GetReference(message), in MemoryMarshal.GetReference(boxed), (ulong)boxed.Length,
            in MemoryMarshal.GetReference(nonce), in MemoryMarshal.GetReference(key)) == 0;
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
}
