using System.Runtime.InteropServices;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

public sealed class DevKeysTests
{
    [Fact]
    public void CreatedOnFirstUse_WithTheModesOf02_AndReusedAfter()
    {
        using var dir = new TempDirectory();
        var home = Path.Combine(dir.Path, "nexhome");

        using var issuer = DevKeys.LoadOrCreateIssuer(home);
        using var xkey = DevKeys.LoadOrCreateXkey(home);
        Assert.StartsWith("A", issuer.GetPublicKey(), StringComparison.Ordinal);
        Assert.StartsWith("X", xkey.GetPublicKey(), StringComparison.Ordinal);
        Assert.Equal(Path.Combine(home, "issuer.nk"), DevKeys.IssuerPath(home));
        Assert.Equal(Path.Combine(home, "publisher.xk"), DevKeys.XkeyPath(home));
        Assert.StartsWith("SA", File.ReadAllText(DevKeys.IssuerPath(home)), StringComparison.Ordinal);
        Assert.StartsWith("SX", File.ReadAllText(DevKeys.XkeyPath(home)), StringComparison.Ordinal);

        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode rwx770 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute;
            Assert.Equal(rwx770, File.GetUnixFileMode(home));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DevKeys.IssuerPath(home)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DevKeys.XkeyPath(home)));
        }

        using var again = DevKeys.LoadOrCreateIssuer(home);
        using var xagain = DevKeys.LoadOrCreateXkey(home);
        Assert.Equal(issuer.GetPublicKey(), again.GetPublicKey());
        Assert.Equal(xkey.GetPublicKey(), xagain.GetPublicKey());
    }

    [Fact]
    public void DefaultHome_IsNexHome()
    {
        var saved = Environment.GetEnvironmentVariable("NEX_HOME");
        try
        {
            Environment.SetEnvironmentVariable("NEX_HOME", "/some/where");
            Assert.Equal("/some/where/issuer.nk", DevKeys.IssuerPath());
            Environment.SetEnvironmentVariable("NEX_HOME", null);
            Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nex", "publisher.xk"), DevKeys.XkeyPath());
        }
        finally
        {
            Environment.SetEnvironmentVariable("NEX_HOME", saved);
        }
    }

    [Fact]
    public void AFileOfTheWrongKind_IsAnError()
    {
        using var dir = new TempDirectory();
        using (var curve = NexKeys.CreateCurve())
        {
            NexKeys.WriteSeedFile(DevKeys.IssuerPath(dir.Path), curve);
        }

        File.WriteAllText(DevKeys.XkeyPath(dir.Path), "not a seed\n");
        Assert.Contains("curve", Assert.Throws<NexSecurityException>(() => DevKeys.LoadOrCreateIssuer(dir.Path)).Message, StringComparison.Ordinal);
        Assert.Contains("publisher.xk", Assert.Throws<NexSecurityException>(() => DevKeys.LoadOrCreateXkey(dir.Path)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DetectPlatform_ReadsElfPeAndMachOHeaders()
    {
        var elf = new byte[64];
        "\u007fELF"u8.CopyTo(elf);
        elf[5] = 1;
        elf[18] = 0x3E;
        Assert.Equal(new ExecutablePlatform("linux", "amd64"), NexClient.DetectPlatform(elf));
        elf[18] = 0xB7;
        Assert.Equal(new ExecutablePlatform("linux", "arm64"), NexClient.DetectPlatform(elf));

        var pe = new byte[256];
        pe[0] = (byte)'M';
        pe[1] = (byte)'Z';
        pe[0x3C] = 0x80;
        "PE\0\0"u8.CopyTo(pe.AsSpan(0x80));
        pe[0x84] = 0x64;
        pe[0x85] = 0x86;
        Assert.Equal(new ExecutablePlatform("windows", "amd64"), NexClient.DetectPlatform(pe));

        byte[] macho = [0xCF, 0xFA, 0xED, 0xFE, 0x0C, 0, 0, 1];
        Assert.Equal(new ExecutablePlatform("darwin", "arm64"), NexClient.DetectPlatform(macho));

        Assert.Null(NexClient.DetectPlatform("#!/bin/sh\necho hi\n"u8));
        Assert.Null(NexClient.DetectPlatform("/nonexistent/file"));

        if (OperatingSystem.IsLinux() && Environment.ProcessPath is { } self)
        {
            var arch = RuntimeInformation.ProcessArchitecture switch { Architecture.X64 => "amd64", Architecture.Arm64 => "arm64", _ => null };
            if (arch is not null)
            {
                Assert.Equal(new ExecutablePlatform("linux", arch), NexClient.DetectPlatform(self));
            }
        }
    }
}
