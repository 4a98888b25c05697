using System.Text;
using Xunit;

namespace Nex.Security.Tests;

/// <summary>Every case of the independent (nkeys.js) test-vector file.</summary>
public class VectorTests
{
    private static readonly DateTimeOffset DeployTime = DateTimeOffset.FromUnixTimeSeconds(1719900000);

    [Fact]
    public void InRepoCopyMatchesSharedVectors()
    {
        var root = Vectors.FindRepoRoot();
        var shared = root is null ? null : Path.GetFullPath(Path.Combine(root, "..", "shared", "test-vectors", Vectors.FileName));
        if (shared is null || !File.Exists(shared))
        {
            Assert.Skip("shared test-vector file not present");
        }

        var inRepo = Path.Combine(root!, "tests", "Nex.Security.Tests", "vectors", Vectors.FileName);
        Assert.Equal(File.ReadAllBytes(shared), File.ReadAllBytes(inRepo));
    }

    [Fact]
    public void Xkv1_KeysMatchTheirPublicKeys()
    {
        var v = Vectors.Xkv1;
        Assert.Equal(v.Str("recipient_public"), NexKeys.FromSeed(v.Str("recipient_seed")).GetPublicKey());
        Assert.Equal(v.Str("sender_public"), NexKeys.FromSeed(v.Str("sender_seed")).GetPublicKey());
    }

    [Fact]
    public void Xkv1_OpenGivesThePlaintext()
    {
        var v = Vectors.Xkv1;
        var recipient = NexKeys.FromSeed(v.Str("recipient_seed"));
        var opened = EnvironmentCipher.Open(Convert.FromBase64String(v.Str("sealed_base64")), recipient, v.Str("sender_public"));
        Assert.Equal(v.Str("plaintext"), Encoding.UTF8.GetString(opened));
    }

    [Fact]
    public void Xkv1_DecryptGivesTheEnvironment()
    {
        var v = Vectors.Xkv1;
        var env = EnvironmentCipher.Decrypt(v.Str("sealed_base64"), NexKeys.FromSeed(v.Str("recipient_seed")), v.Str("sender_public"));
        Assert.Equal(3, env.Count);
        Assert.Equal("nats://127.0.0.1:4222", env["NATS_URL"]);
        Assert.Equal("12345", env["TOP_SECRET_LUGGAGE"]);
        Assert.Equal("ünïcødé ✓", env["UNICODE"]);
    }

    [Fact]
    public void Xkv1_WrongSenderKeyFails()
    {
        var v = Vectors.Xkv1;
        var recipient = NexKeys.FromSeed(v.Str("recipient_seed"));
        var sealedBytes = Convert.FromBase64String(v.Str("sealed_base64"));
        var ex = Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Open(sealedBytes, recipient, v.Str("recipient_public")));
        Assert.Equal("decryption failed", ex.Message);
        ex = Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(v.Str("sealed_base64"), recipient, NexKeys.CreateCurve().GetPublicKey()));
        Assert.Equal("decryption failed", ex.Message);
    }

    [Fact]
    public void Xkv1_OneFlippedByteFails()
    {
        var v = Vectors.Xkv1;
        var recipient = NexKeys.FromSeed(v.Str("recipient_seed"));
        var original = Convert.FromBase64String(v.Str("sealed_base64"));
        // One position in each region: nonce, Poly1305 tag, ciphertext (first and last byte).
        foreach (var index in new[] { 4, 27, 28, 43, 44, original.Length - 1 })
        {
            var tampered = (byte[])original.Clone();
            tampered[index] ^= 0x01;
            var ex = Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Open(tampered, recipient, v.Str("sender_public")));
            Assert.Equal("decryption failed", ex.Message);
        }
    }

    [Fact]
    public void Signing_SignatureVerifiesAndIsReproduced()
    {
        var v = Vectors.Signing;
        var key = NexKeys.FromSeed(v.Str("account_seed"));
        Assert.Equal(v.Str("account_public"), key.GetPublicKey());
        var message = Encoding.UTF8.GetBytes(v.Str("message_utf8"));
        var expected = Convert.FromBase64String(v.Str("signature_base64"));

        using var publicOnly = NATS.NKeys.KeyPair.FromPublicKey(v.Str("account_public"));
        Assert.True(publicOnly.Verify(message, expected));

        var signature = new byte[64];
        key.Sign(message, signature);
        Assert.Equal(expected, signature);
    }

    [Fact]
    public void Deploy_DecodesAndValidatesWithExpectedClaims()
    {
        var v = Vectors.Jwt;
        var expected = v.GetProperty("deploy_claims");
        foreach (var claims in new[]
                 {
                     WorkloadJwt.Decode(v.Str("deploy")),
                     WorkloadJwt.Validate(v.Str("deploy"), DateTimeOffset.UtcNow),
                 })
        {
            Assert.Equal(expected.Str("jti"), claims.Jti);
            Assert.Equal(expected.GetProperty("iat").GetInt64(), claims.Iat);
            Assert.Equal(expected.Str("iss"), claims.Iss);
            Assert.Equal(v.Str("issuer_public"), claims.Iss);
            Assert.Equal(expected.Str("sub"), claims.Sub);
            Assert.Equal(expected.GetProperty("nats").Str("hash"), claims.Hash);
            Assert.Equal(WorkloadJwt.PlaceholderHash, claims.Hash);
            Assert.Null(claims.Exp);
            Assert.Null(claims.Nbf);
        }
    }

    [Fact]
    public void Deploy_IssueReproducesTheTokenExactly()
    {
        var v = Vectors.Jwt;
        var issuer = NexKeys.FromSeed(v.Str("issuer_seed"));
        var token = WorkloadJwt.Issue(issuer, "echoservice", WorkloadJwt.PlaceholderHash, DeployTime);
        Assert.Equal(v.Str("deploy"), token);
    }

    [Fact]
    public void StopOk_IssueReproducesTheToken()
    {
        // stop_ok is a plain stop token (no hash) issued 5 s after the deploy.
        var v = Vectors.Jwt;
        var issuer = NexKeys.FromSeed(v.Str("issuer_seed"));
        Assert.Equal(v.Str("stop_ok"), WorkloadJwt.Issue(issuer, "echoservice", null, DeployTime.AddSeconds(5)));
    }

    [Fact]
    public void TamperedPayload_FailsSignature()
    {
        var ex = Assert.Throws<NexSecurityException>(() => WorkloadJwt.Decode(Vectors.Jwt.Str("tampered_payload")));
        Assert.StartsWith("could not decode workload JWT: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("signature", ex.Message, StringComparison.Ordinal);
        Assert.Throws<NexSecurityException>(() => WorkloadJwt.Validate(Vectors.Jwt.Str("tampered_payload"), DateTimeOffset.UtcNow));
    }

    [Fact]
    public void StopOk_PassesTheStopRule()
    {
        var deploy = WorkloadJwt.Decode(Vectors.Jwt.Str("deploy"));
        var stop = WorkloadJwt.Decode(Vectors.Jwt.Str("stop_ok"));
        Assert.Null(stop.Hash);
        Assert.Null(StopRule.Check(deploy, stop));
    }

    [Theory]
    [InlineData("stop_other_issuer", StopRule.IssuerMismatch)]
    [InlineData("stop_other_name", StopRule.SubjectMismatch)]
    [InlineData("stop_same_second", StopRule.ClonedClaims)]
    public void RejectedStops_GiveTheRightMessage(string name, string expected)
    {
        var deploy = WorkloadJwt.Decode(Vectors.Jwt.Str("deploy"));
        var stop = WorkloadJwt.Decode(Vectors.Jwt.Str(name)); // each verifies: rejection is by the rule, not the signature
        Assert.Equal(expected, StopRule.Check(deploy, stop));
    }

    [Fact]
    public void RejectedStops_HaveTheExactSpecTexts()
    {
        Assert.Equal("stop claims appear to be cloned or captured from the original start claims. Rejecting for security reasons", StopRule.ClonedClaims);
        Assert.Equal("stop claims subject does not match original start claims subject", StopRule.SubjectMismatch);
        Assert.Equal("the only entity allowed to terminate a workload is the issuer that originally started it", StopRule.IssuerMismatch);
    }
}
