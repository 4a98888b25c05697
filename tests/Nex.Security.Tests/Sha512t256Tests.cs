using System.Text;
using Xunit;

namespace Nex.Security.Tests;

/// <summary>SHA-512/256 (the workload JWT's <c>jti</c>) on libsodium against NIST's examples.</summary>
public class Sha512t256Tests
{
    [Theory]
    [InlineData("", "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a")]
    [InlineData("abc", "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23")]
    [InlineData( // two blocks
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a")]
    public void Hash_MatchesNistExamples(string message, string expectedHex)
    {
        Assert.Equal(expectedHex, Convert.ToHexStringLower(Sha512t256.Hash(Encoding.ASCII.GetBytes(message))));
    }

    [Fact]
    public void Hash_OfAThousandBytes_MatchesOpenSsl()
    {
        // Many blocks through update; the digest python3's hashlib (OpenSSL) gives for b"a" * 1000.
        Assert.Equal(
            "40eb4a70d4d69815407a9e272f0101cd67e3d11262a4a0bfc087712749c7fb53",
            Convert.ToHexStringLower(Sha512t256.Hash(Enumerable.Repeat((byte)'a', 1000).ToArray())));
    }
}
