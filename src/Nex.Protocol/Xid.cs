using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Nex.Protocol;

/// <summary>
/// Globally unique, sortable ids in the format of <c>github.com/rs/xid</c>: 12 bytes (4-byte big-endian Unix
/// seconds, 3-byte machine id, 2-byte process id, 3-byte counter starting at a random value) encoded as 20
/// lowercase base32hex characters without padding, e.g. <c>cq2v4h3m0lq6c5k2m3ig</c>. Thread-safe.
/// </summary>
public static class Xid
{
    /// <summary>Length of an encoded xid.</summary>
    public const int EncodedLength = 20;

    private const string Alphabet = "0123456789abcdefghijklmnopqrstuv";
    private static readonly byte[] MachineId = CreateMachineId();
    private static readonly int ProcessId = Environment.ProcessId;
    private static int counter = RandomNumberGenerator.GetInt32(0, 1 << 24);

    /// <summary>Creates a new id for the current time.</summary>
    /// <returns>A 20-character xid.</returns>
    public static string NewId() => NewId(DateTimeOffset.UtcNow);

    /// <summary>Creates a new id for the given time (only whole seconds are encoded).</summary>
    /// <param name="time">The timestamp to embed.</param>
    /// <returns>A 20-character xid.</returns>
    public static string NewId(DateTimeOffset time)
    {
        var next = (uint)Interlocked.Increment(ref counter);
        return Encode(Build((uint)time.ToUnixTimeSeconds(), next));
    }

    /// <summary>Whether <paramref name="id"/> has the shape of an xid (20 base32hex lowercase characters).</summary>
    /// <param name="id">Candidate id.</param>
    /// <returns>True when the text decodes to 12 bytes.</returns>
    public static bool IsValid(string? id) => TryDecode(id, out _);

    /// <summary>Reads the timestamp embedded in an xid.</summary>
    /// <param name="id">An xid.</param>
    /// <param name="time">The embedded time (second precision).</param>
    /// <returns>False when <paramref name="id"/> is not an xid.</returns>
    public static bool TryGetTime(string? id, out DateTimeOffset time)
    {
        time = default;
        if (!TryDecode(id, out var bytes))
        {
            return false;
        }

        time = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadUInt32BigEndian(bytes));
        return true;
    }

    internal static byte[] Build(uint unixSeconds, uint count)
    {
        var id = new byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(id, unixSeconds);
        id[4] = MachineId[0];
        id[5] = MachineId[1];
        id[6] = MachineId[2];
        id[7] = (byte)(ProcessId >> 8);
        id[8] = (byte)ProcessId;
        id[9] = (byte)(count >> 16);
        id[10] = (byte)(count >> 8);
        id[11] = (byte)count;
        return id;
    }

    internal static string Encode(ReadOnlySpan<byte> id)
    {
        // Standard base32 (hex alphabet) of 96 bits: 19 full 5-bit groups plus one 1-bit group padded with zeros.
        Span<char> chars = stackalloc char[EncodedLength];
        var buffer = 0;
        var bits = 0;
        var index = 0;
        foreach (var b in id)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[index++] = Alphabet[(buffer >> (bits - 5)) & 0x1F];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            chars[index++] = Alphabet[(buffer << (5 - bits)) & 0x1F];
        }

        return new string(chars[..index]);
    }

    internal static bool TryDecode(string? text, out byte[] id)
    {
        id = [];
        if (text is null || text.Length != EncodedLength)
        {
            return false;
        }

        var result = new byte[12];
        var buffer = 0;
        var bits = 0;
        var index = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var value = Alphabet.IndexOf(text[i], StringComparison.Ordinal);
            if (value < 0)
            {
                return false;
            }

            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                if (index == result.Length)
                {
                    return false;
                }

                result[index++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }

            buffer &= (1 << bits) - 1;
        }

        // The last character carries 1 data bit and 4 padding bits that must be zero.
        if (index != result.Length || buffer != 0)
        {
            return false;
        }

        id = result;
        return true;
    }

    private static byte[] CreateMachineId()
    {
        var name = Environment.MachineName;
        if (string.IsNullOrEmpty(name))
        {
            return RandomNumberGenerator.GetBytes(3);
        }

        return SHA256.HashData(Encoding.UTF8.GetBytes(name))[..3];
    }
}
