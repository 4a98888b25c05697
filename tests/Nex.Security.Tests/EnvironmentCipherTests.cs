using System.Text;
using Xunit;

namespace Nex.Security.Tests;

public class EnvironmentCipherTests
{
    private static readonly NATS.NKeys.KeyPair Sender = NexKeys.CreateCurve();
    private static readonly NATS.NKeys.KeyPair Node = NexKeys.CreateCurve();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1000)]
    public void OurSealAndNKeysSealOpenEachOther(int length)
    {
        // Our box (libsodium, cached box keys) and NATS.NKeys' (TweetNaCl) are the same NaCl construction.
        var plaintext = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(plaintext, Node.Open(EnvironmentCipher.Seal(plaintext, Sender, Node.GetPublicKey()), Sender.GetPublicKey()));
        Assert.Equal(plaintext, EnvironmentCipher.Open(Sender.Seal(plaintext, Node.GetPublicKey()), Node, Sender.GetPublicKey()));

        // Twice, so the second goes through the cached box key; and the other direction of the same pair.
        Assert.Equal(plaintext, EnvironmentCipher.Open(Sender.Seal(plaintext, Node.GetPublicKey()), Node, Sender.GetPublicKey()));
        Assert.Equal(plaintext, Sender.Open(EnvironmentCipher.Seal(plaintext, Node, Sender.GetPublicKey()), Node.GetPublicKey()));
    }

    [Fact]
    public void EncryptionRoundTrip_Spec12_1()
    {
        // test/run_test.go: env {NATS_URL, TOP_SECRET_LUGGAGE=12345} sealed to the node decrypts to the same values,
        // and the request's JWT validates.
        var env = new Dictionary<string, string>
        {
            ["NATS_URL"] = "nats://127.0.0.1:4222",
            ["TOP_SECRET_LUGGAGE"] = "12345",
        };
        var encrypted = EnvironmentCipher.Encrypt(env, Sender, Node.GetPublicKey());
        Assert.Equal(encrypted, Convert.ToBase64String(Convert.FromBase64String(encrypted))); // standard padded base64

        var decrypted = EnvironmentCipher.Decrypt(encrypted, Node, Sender.GetPublicKey());
        Assert.Equal(env.OrderBy(p => p.Key, StringComparer.Ordinal), decrypted.OrderBy(p => p.Key, StringComparer.Ordinal));

        var issuer = NexKeys.CreateAccount();
        var jwt = WorkloadJwt.Issue(issuer, "echoservice", WorkloadJwt.PlaceholderHash, DateTimeOffset.UtcNow);
        var claims = WorkloadJwt.Validate(jwt, DateTimeOffset.UtcNow);
        Assert.Equal("echoservice", claims.Sub);
        Assert.Equal(issuer.GetPublicKey(), claims.Iss);
    }

    [Fact]
    public void SealedLayout_IsXkv1NonceBox_AndPlaintextIsSortedJson()
    {
        var env = new Dictionary<string, string> { ["b"] = "2", ["a"] = "ü<&>" };
        var sealedBytes = Convert.FromBase64String(EnvironmentCipher.Encrypt(env, Sender, Node.GetPublicKey()));
        Assert.Equal("xkv1"u8.ToArray(), sealedBytes[..4]);
        var plaintext = EnvironmentCipher.Open(sealedBytes, Node, Sender.GetPublicKey());
        Assert.Equal(44 + plaintext.Length, sealedBytes.Length);
        Assert.Equal("{\"a\":\"ü<&>\",\"b\":\"2\"}", Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public void NullOrEmptyEnvironment_EncryptsAsEmptyObject()
    {
        foreach (var env in new IReadOnlyDictionary<string, string>?[] { null, new Dictionary<string, string>() })
        {
            var encrypted = EnvironmentCipher.Encrypt(env, Sender, Node.GetPublicKey());
            var plaintext = EnvironmentCipher.Open(Convert.FromBase64String(encrypted), Node, Sender.GetPublicKey());
            Assert.Equal("{}", Encoding.UTF8.GetString(plaintext));
            Assert.Empty(EnvironmentCipher.Decrypt(encrypted, Node, Sender.GetPublicKey()));
        }
    }

    [Fact]
    public void NullJsonPlaintext_IsAnEmptyMap()
    {
        var encrypted = Convert.ToBase64String(EnvironmentCipher.Seal("null"u8.ToArray(), Sender, Node.GetPublicKey()));
        Assert.Empty(EnvironmentCipher.Decrypt(encrypted, Node, Sender.GetPublicKey()));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"x\"")]
    [InlineData("{\"a\":1}")]
    [InlineData("{\"a\":null}")]
    [InlineData("{\"a\":")]
    [InlineData("")]
    public void NonMapPlaintext_Fails(string json)
    {
        var encrypted = Convert.ToBase64String(EnvironmentCipher.Seal(Encoding.UTF8.GetBytes(json), Sender, Node.GetPublicKey()));
        var ex = Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(encrypted, Node, Sender.GetPublicKey()));
        Assert.Equal("decrypted environment is not a JSON object of strings", ex.Message);
    }

    [Theory]
    [InlineData(null, "no encrypted environment supplied")]
    [InlineData("", "no encrypted environment supplied")]
    [InlineData("not base64!", "environment is not valid base64")]
    [InlineData("eGt2MQ==", "decryption failed")]
    public void BadInput_FailsWithBareReason(string? input, string expected)
    {
        var ex = Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(input, Node, Sender.GetPublicKey()));
        Assert.Equal(expected, ex.Message);
    }

    [Fact]
    public void WrongRecipientKey_Fails()
    {
        var encrypted = EnvironmentCipher.Encrypt(new Dictionary<string, string> { ["A"] = "1" }, Sender, Node.GetPublicKey());
        var ex = Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(encrypted, NexKeys.CreateCurve(), Sender.GetPublicKey()));
        Assert.Equal("decryption failed", ex.Message);
    }

    [Fact]
    public void NonCurveKeys_AreRejected()
    {
        var account = NexKeys.CreateAccount();
        Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Encrypt(null, account, Node.GetPublicKey()));
        Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Encrypt(null, Sender, account.GetPublicKey()));
        var encrypted = EnvironmentCipher.Encrypt(null, Sender, Node.GetPublicKey());
        Assert.Equal("invalid sender public xkey",
            Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(encrypted, Node, account.GetPublicKey())).Message);
        Assert.Equal("invalid sender public xkey",
            Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(encrypted, Node, "XBAD")).Message);
        Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(encrypted, account, Sender.GetPublicKey()));
    }
}
