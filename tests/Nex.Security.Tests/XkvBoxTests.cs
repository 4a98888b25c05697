using System.Text;
using Xunit;

namespace Nex.Security.Tests;

/// <summary>The libsodium xkv1 box against the nkeys.js vectors byte for byte, and NaCl's small-order behaviour.</summary>
public class XkvBoxTests
{
    private static readonly NATS.NKeys.KeyPair Sender = NexKeys.CreateCurve();
    private static readonly NATS.NKeys.KeyPair Node = NexKeys.CreateCurve();

    [Fact]
    public void Seal_WithTheVectorsNonce_ReproducesTheVectorsBytes()
    {
        var v = Vectors.Xkv1;
        var expected = Convert.FromBase64String(v.Str("sealed_base64"));
        var sender = NexKeys.FromSeed(v.Str("sender_seed"));
        var ours = XkvBox.Seal(Encoding.UTF8.GetBytes(v.Str("plaintext")), sender, v.Str("recipient_public"), expected.AsSpan(4, 24));
        Assert.Equal(expected, ours);
    }

    [Fact]
    public void Seal_FromTheRecipientBack_UsesTheSameBoxKey()
    {
        // X25519 is symmetric: the recipient sealing to the sender with the same nonce gives the same bytes,
        // and each side opens the other's box through its own cached key.
        var v = Vectors.Xkv1;
        var expected = Convert.FromBase64String(v.Str("sealed_base64"));
        var recipient = NexKeys.FromSeed(v.Str("recipient_seed"));
        var plaintext = Encoding.UTF8.GetBytes(v.Str("plaintext"));
        Assert.Equal(expected, XkvBox.Seal(plaintext, recipient, v.Str("sender_public"), expected.AsSpan(4, 24)));
        Assert.Equal(plaintext, XkvBox.Open(expected, NexKeys.FromSeed(v.Str("sender_seed")), v.Str("recipient_public")));
    }

    [Fact]
    public void Open_NotXkv1OrTooShort_GivesNull()
    {
        var sealedBytes = XkvBox.Seal("x"u8, Sender, Node.GetPublicKey());
        Assert.Null(XkvBox.Open(sealedBytes.AsSpan(0, 43), Node, Sender.GetPublicKey()));
        var otherHeader = (byte[])sealedBytes.Clone();
        otherHeader[3] = (byte)'2';
        Assert.Null(XkvBox.Open(otherHeader, Node, Sender.GetPublicKey()));
        Assert.Equal("x"u8.ToArray(), XkvBox.Open(sealedBytes, Node, Sender.GetPublicKey()));
    }

    [Theory]
    [InlineData(0)] // the all-zero key: what Go nkeys 0.4.4–0.4.5 sealed to by mistake
    [InlineData(1)] // u = 1, a point of order 4
    public void SmallOrderPeerKey_BoxesAsNaClDoes(byte u)
    {
        // libsodium refuses such keys; TweetNaCl (NATS.NKeys) and Go's nkeys use the all-zero X25519 result.
        // The box behaves as theirs: each opens what the other sealed.
        var raw = new byte[32];
        raw[0] = u;
        var peer = CurvePublicKey(raw);
        var plaintext = "small order"u8.ToArray();
        Assert.Equal(plaintext, Node.Open(EnvironmentCipher.Seal(plaintext, Sender, peer), peer));
        Assert.Equal(plaintext, EnvironmentCipher.Open(Sender.Seal(plaintext, peer), Node, peer));
    }

    // A public XKey: base32 of the prefix byte 'X' (23 << 3), the 32-byte key and its CRC-16/XMODEM, little-endian.
    private static string CurvePublicKey(byte[] raw)
    {
        var data = new byte[35];
        data[0] = 23 << 3;
        raw.CopyTo(data, 1);
        ushort crc = 0;
        foreach (var b in data.AsSpan(0, 33))
        {
            crc ^= (ushort)(b << 8);
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        data[33] = (byte)crc;
        data[34] = (byte)(crc >> 8);
        var key = Base32NoPadding.Encode(data);
        Assert.True(NATS.NKeys.KeyPair.IsValidPublicKey(NATS.NKeys.PrefixByte.Curve, key));
        return key;
    }
}
