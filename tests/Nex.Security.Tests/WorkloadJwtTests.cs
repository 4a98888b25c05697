using System.Text;
using Xunit;

namespace Nex.Security.Tests;

public class WorkloadJwtTests
{
    private static readonly NATS.NKeys.KeyPair Issuer = NexKeys.CreateAccount();
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_750_000_000);

    [Fact]
    public void Issue_HasTheNatsV2Shape()
    {
        var token = WorkloadJwt.Issue(Issuer, "echo", WorkloadJwt.PlaceholderHash, Now);
        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        Assert.DoesNotContain('=', token);
        Assert.Equal("{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}", Encoding.UTF8.GetString(Base64UrlDecode(parts[0])));
        var payload = Encoding.UTF8.GetString(Base64UrlDecode(parts[1]));
        var claims = WorkloadJwt.Decode(token);
        Assert.Equal(
            $"{{\"jti\":\"{claims.Jti}\",\"iat\":1750000000,\"iss\":\"{Issuer.GetPublicKey()}\",\"sub\":\"echo\",\"nats\":{{\"hash\":\"{WorkloadJwt.PlaceholderHash}\",\"version\":2}}}}",
            payload);
        Assert.Equal(52, claims.Jti.Length);
    }

    [Fact]
    public void StopToken_OmitsHash()
    {
        var token = WorkloadJwt.Issue(Issuer, "echo", null, Now);
        var payload = Encoding.UTF8.GetString(Base64UrlDecode(token.Split('.')[1]));
        Assert.EndsWith(",\"nats\":{\"version\":2}}", payload, StringComparison.Ordinal);
        Assert.Null(WorkloadJwt.Decode(token).Hash);
    }

    [Fact]
    public void AnySigningKeyTypeMayIssue()
    {
        foreach (var key in new[] { NexKeys.CreateUser(), NexKeys.CreateServer(), NexKeys.CreateAccount() })
        {
            var claims = WorkloadJwt.Validate(WorkloadJwt.Issue(key, "w", null, Now), Now);
            Assert.Equal(key.GetPublicKey(), claims.Iss);
        }

        Assert.Throws<NexSecurityException>(() => WorkloadJwt.Issue(NexKeys.CreateCurve(), "w", null, Now));
    }

    [Theory]
    [InlineData("my.workload")]
    [InlineData("my workload")]
    [InlineData("")]
    [InlineData("trailing\n")]
    [InlineData("ünï")]
    public void NameRule_Rejects(string name)
    {
        var token = WorkloadJwt.Issue(Issuer, name, WorkloadJwt.PlaceholderHash, Now);
        Assert.Equal(name, WorkloadJwt.Decode(token).Sub); // decoding is fine; validation is not
        var ex = Assert.Throws<NexSecurityException>(() => WorkloadJwt.Validate(token, Now));
        Assert.Equal($"workload name claim ('{name}') does not match requirements (^[a-zA-Z0-9_-]+$)", ex.Message);
    }

    [Theory]
    [InlineData("echoservice")]
    [InlineData("Echo_Service-2")]
    [InlineData("-")]
    public void NameRule_Accepts(string name)
    {
        Assert.True(WorkloadJwt.IsValidWorkloadName(name));
        Assert.Equal(name, WorkloadJwt.Validate(WorkloadJwt.Issue(Issuer, name, null, Now), Now).Sub);
    }

    [Fact]
    public void NameRule_AllowsAtMost64Characters_AndSaysSoInOneShortLine()
    {
        var longest = new string('a', WorkloadJwt.MaxNameLength);
        Assert.Equal(longest, WorkloadJwt.Validate(WorkloadJwt.Issue(Issuer, longest, null, Now), Now).Sub);

        // 4,100 characters passed 0.2's pattern, and its log subjects then broke the node's NATS connection.
        var huge = new string('a', 4100);
        Assert.False(WorkloadJwt.IsValidWorkloadName(huge));
        Assert.False(WorkloadJwt.IsValidWorkloadName(longest + "b"));
        var ex = Assert.Throws<NexSecurityException>(() => WorkloadJwt.Validate(WorkloadJwt.Issue(Issuer, huge, null, Now), Now));
        Assert.Equal($"workload name claim ('{longest}…') is 4100 characters long; at most 64 are allowed", ex.Message);
    }

    [Fact]
    public void ExpAndNbf_AreEnforced()
    {
        const string Invalid = "standard claims within JWT are not valid";
        var t = Now.ToUnixTimeSeconds();

        Assert.Equal(Invalid, Assert.Throws<NexSecurityException>(() => WorkloadJwt.Validate(Sign($"\"exp\":{t - 1}"), Now)).Message);
        Assert.Equal(t - 1, WorkloadJwt.Decode(Sign($"\"exp\":{t - 1}")).Exp);
        Assert.Equal(t, WorkloadJwt.Validate(Sign($"\"exp\":{t}"), Now).Exp); // expires only after the second
        Assert.Equal(t + 60, WorkloadJwt.Validate(Sign($"\"exp\":{t + 60}"), Now).Exp);

        Assert.Equal(Invalid, Assert.Throws<NexSecurityException>(() => WorkloadJwt.Validate(Sign($"\"nbf\":{t + 1}"), Now)).Message);
        Assert.Equal(t, WorkloadJwt.Validate(Sign($"\"nbf\":{t}"), Now).Nbf);
        Assert.Equal(0, WorkloadJwt.Validate(Sign("\"exp\":0,\"nbf\":0"), Now).Exp); // zero means "not set"
    }

    [Fact]
    public void DecodeFailures_HaveThePrefix()
    {
        var good = WorkloadJwt.Issue(Issuer, "echo", null, Now);
        var parts = good.Split('.');
        var other = WorkloadJwt.Issue(NexKeys.CreateAccount(), "echo", null, Now).Split('.');
        string[] bad =
        [
            "",
            "abc",
            "a.b",
            good + ".x",
            "!!!." + parts[1] + "." + parts[2],
            parts[0] + ".***." + parts[2],
            parts[0] + "." + parts[1] + ".@@",
            parts[0] + "." + parts[1] + "." + parts[2][..20],
            parts[0] + "." + parts[1] + "." + other[2],
            parts[0] + "." + B64("not json") + "." + parts[2],
            parts[0] + "." + B64("[1]") + "." + parts[2],
            B64("{\"typ\":\"JWT\",\"alg\":\"HS256\"}") + "." + parts[1] + "." + parts[2],
            B64("{\"typ\":\"XYZ\",\"alg\":\"ed25519-nkey\"}") + "." + parts[1] + "." + parts[2],
            SignRaw("{\"iat\":1,\"sub\":\"x\"}", Issuer), // no iss
            SignRaw("{\"iat\":1,\"iss\":\"ANOTAKEY\",\"sub\":\"x\"}", Issuer),
            SignRaw($"{{\"iat\":\"1\",\"iss\":\"{Issuer.GetPublicKey()}\",\"sub\":\"x\"}}", Issuer),
            SignRaw($"{{\"iat\":1,\"iss\":\"{NexKeys.CreateAccount().GetPublicKey()}\",\"sub\":\"x\"}}", Issuer), // iss is not the signer
            SignRaw($"{{\"iat\":1,\"iss\":\"{NexKeys.CreateCurve().GetPublicKey()}\",\"sub\":\"x\"}}", Issuer),
        ];
        foreach (var token in bad)
        {
            var ex = Assert.Throws<NexSecurityException>(() => WorkloadJwt.Decode(token));
            Assert.StartsWith("could not decode workload JWT: ", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Decode_IgnoresUnknownClaimsAndToleratesV1Alg()
    {
        var token = SignRaw($"{{\"iat\":5,\"iss\":\"{Issuer.GetPublicKey()}\",\"sub\":\"x\",\"aud\":\"y\",\"nats\":{{\"hash\":7,\"x\":1}}}}", Issuer,
            "{\"typ\":\"jwt\",\"alg\":\"ed25519\"}");
        var claims = WorkloadJwt.Decode(token);
        Assert.Equal(new WorkloadClaims(string.Empty, 5, Issuer.GetPublicKey(), "x"), claims);
    }

    [Theory]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", true)]
    [InlineData("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", true)]
    [InlineData(WorkloadJwt.PlaceholderHash, false)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", false)]
    [InlineData("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsRealDigest_Works(string? hash, bool expected) => Assert.Equal(expected, WorkloadJwt.IsRealDigest(hash));

    private static string Sign(string extraClaims) =>
        SignRaw($"{{\"iat\":{Now.ToUnixTimeSeconds()},\"iss\":\"{Issuer.GetPublicKey()}\",\"sub\":\"echo\",{extraClaims}}}", Issuer);

    private static string SignRaw(string payloadJson, NATS.NKeys.KeyPair key, string header = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}")
    {
        var input = B64(header) + "." + B64(payloadJson);
        var signature = new byte[64];
        key.Sign(Encoding.ASCII.GetBytes(input), signature);
        return input + "." + System.Buffers.Text.Base64Url.EncodeToString(signature);
    }

    private static string B64(string text) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    private static byte[] Base64UrlDecode(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);
}
