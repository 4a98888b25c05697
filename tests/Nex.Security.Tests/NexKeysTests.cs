using Xunit;

namespace Nex.Security.Tests;

public sealed class NexKeysTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nex-security-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Create_GivesTheRightPrefixes()
    {
        Assert.StartsWith("A", NexKeys.CreateAccount().GetPublicKey(), StringComparison.Ordinal);
        Assert.StartsWith("SA", NexKeys.CreateAccount().GetSeed(), StringComparison.Ordinal);
        Assert.StartsWith("X", NexKeys.CreateCurve().GetPublicKey(), StringComparison.Ordinal);
        Assert.StartsWith("SX", NexKeys.CreateCurve().GetSeed(), StringComparison.Ordinal);
        Assert.StartsWith("N", NexKeys.CreateServer().GetPublicKey(), StringComparison.Ordinal);
        Assert.StartsWith("U", NexKeys.CreateUser().GetPublicKey(), StringComparison.Ordinal);
    }

    [Fact]
    public void FromSeed_TrimsWhitespace()
    {
        var kp = NexKeys.CreateAccount();
        Assert.Equal(kp.GetPublicKey(), NexKeys.FromSeed("  " + kp.GetSeed() + "\r\n").GetPublicKey());
    }

    [Fact]
    public void FromSeed_RejectsBadInput()
    {
        var kp = NexKeys.CreateAccount();
        var seed = kp.GetSeed();
        var flipped = seed[..10] + (seed[10] == 'A' ? 'B' : 'A') + seed[11..];
        foreach (var bad in new[] { "", "  \n", "SAbad!", "SA", kp.GetPublicKey(), flipped, seed.ToLowerInvariant(), null! })
        {
            var ex = Assert.Throws<NexSecurityException>(() => NexKeys.FromSeed(bad));
            Assert.StartsWith("invalid seed: ", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(seed, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SeedFile_RoundTrip_WithMode0600()
    {
        var path = Path.Combine(_dir, "nested", "issuer.nk");
        var kp = NexKeys.CreateAccount();
        NexKeys.WriteSeedFile(path, kp);

        Assert.Equal(kp.GetSeed() + "\n", File.ReadAllText(path));
        Assert.Equal(kp.GetPublicKey(), NexKeys.LoadSeedFile(path).GetPublicKey());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void WriteSeedFile_TightensAnExistingFile()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix file modes only");
            return;
        }

        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "existing.xk");
        File.WriteAllText(path, "old");
        File.SetUnixFileMode(path, (UnixFileMode)0b110_100_100);
        var kp = NexKeys.CreateCurve();
        NexKeys.WriteSeedFile(path, kp);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(kp.GetPublicKey(), NexKeys.LoadSeedFile(path).GetPublicKey());
    }

    [Fact]
    public void WriteSeedFile_RequiresASeed()
    {
        using var publicOnly = NATS.NKeys.KeyPair.FromPublicKey(NexKeys.CreateAccount().GetPublicKey());
        Assert.Throws<NexSecurityException>(() => NexKeys.WriteSeedFile(Path.Combine(_dir, "x.nk"), publicOnly));
    }

    [Fact]
    public void LoadSeedFile_ToleratesTrailingNewlineAndNamesTheFileOnError()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "seed.nk");
        var kp = NexKeys.CreateAccount();
        File.WriteAllText(path, kp.GetSeed() + "\n\n");
        Assert.Equal(kp.GetPublicKey(), NexKeys.LoadSeedFile(path).GetPublicKey());

        File.WriteAllText(path, "garbage\n");
        var ex = Assert.Throws<NexSecurityException>(() => NexKeys.LoadSeedFile(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("invalid seed", ex.Message, StringComparison.Ordinal);

        var missing = Path.Combine(_dir, "missing.nk");
        Assert.Contains(missing, Assert.Throws<NexSecurityException>(() => NexKeys.LoadSeedFile(missing)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadOrCreateSeedFile_CreatesOnceThenReuses()
    {
        var path = Path.Combine(_dir, "home", ".nex", "publisher.xk");
        var calls = 0;
        var first = NexKeys.LoadOrCreateSeedFile(path, () => { calls++; return NexKeys.CreateCurve(); });
        var second = NexKeys.LoadOrCreateSeedFile(path, () => { calls++; return NexKeys.CreateCurve(); });
        Assert.Equal(1, calls);
        Assert.Equal(first.GetSeed(), second.GetSeed());
        Assert.StartsWith("SX", second.GetSeed(), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void IsValidPublicKey_ChecksTypeAndChecksum()
    {
        var account = NexKeys.CreateAccount();
        var curve = NexKeys.CreateCurve();
        var server = NexKeys.CreateServer();
        Assert.True(NexKeys.IsValidPublicKey(account.GetPublicKey(), 'A'));
        Assert.True(NexKeys.IsValidPublicKey(curve.GetPublicKey(), 'X'));
        Assert.True(NexKeys.IsValidPublicKey(server.GetPublicKey(), 'N'));
        Assert.False(NexKeys.IsValidPublicKey(account.GetPublicKey(), 'U'));
        Assert.False(NexKeys.IsValidPublicKey(account.GetPublicKey(), 'Z'));
        Assert.False(NexKeys.IsValidPublicKey(account.GetSeed(), 'A'));
        Assert.False(NexKeys.IsValidPublicKey("ABC", 'A'));
        Assert.False(NexKeys.IsValidPublicKey("Anot-base32", 'A'));
        Assert.False(NexKeys.IsValidPublicKey("", 'A'));
        Assert.False(NexKeys.IsValidPublicKey(null!, 'A'));
        var key = account.GetPublicKey();
        Assert.False(NexKeys.IsValidPublicKey(key[..^1] + (key[^1] == 'A' ? 'B' : 'A'), 'A'));
    }
}
