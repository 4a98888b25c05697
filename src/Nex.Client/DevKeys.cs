using NATS.NKeys;
using Nex.Security;

namespace Nex.Client;

/// <summary>
/// The developer-mode keys of <c>nex devrun</c> (spec §2.3): an issuer account seed in <c>issuer.nk</c>
/// and a publisher curve seed in <c>publisher.xk</c>, kept in Nex's home directory (<c>$NEX_HOME</c>,
/// else <c>~/.nex</c>). They are created on first use (directory mode 0770 as in 0.2, files 0600)
/// and reused after that, so a workload started by <c>nex devrun</c> can later be stopped by <c>nex stop</c>.
/// </summary>
public static class DevKeys
{
    /// <summary>The issuer seed file name.</summary>
    public const string IssuerFileName = "issuer.nk";

    /// <summary>The publisher xkey seed file name.</summary>
    public const string XkeyFileName = "publisher.xk";

    private const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute;

    /// <summary>The default home directory: <c>$NEX_HOME</c>, else <c>~/.nex</c>.</summary>
    public static string DefaultHome =>
        Environment.GetEnvironmentVariable("NEX_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nex");

    /// <summary>The issuer seed file under <paramref name="home"/> (default <see cref="DefaultHome"/>).</summary>
    /// <param name="home">The home directory, or null for the default.</param>
    /// <returns>The path.</returns>
    public static string IssuerPath(string? home = null) => Path.Combine(home ?? DefaultHome, IssuerFileName);

    /// <summary>The publisher xkey seed file under <paramref name="home"/> (default <see cref="DefaultHome"/>).</summary>
    /// <param name="home">The home directory, or null for the default.</param>
    /// <returns>The path.</returns>
    public static string XkeyPath(string? home = null) => Path.Combine(home ?? DefaultHome, XkeyFileName);

    /// <summary>Loads the issuer account key, creating it (and the directory) on first use.</summary>
    /// <param name="home">The home directory, or null for the default.</param>
    /// <returns>The account key pair (seed <c>SA…</c>).</returns>
    /// <exception cref="NexSecurityException">The file exists but is invalid or not an account seed, or cannot be written.</exception>
    public static KeyPair LoadOrCreateIssuer(string? home = null)
    {
        var path = IssuerPath(home);
        EnsureDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var kp = NexKeys.LoadOrCreateSeedFile(path, NexKeys.CreateAccount);
        if (kp.Prefix == PrefixByte.Curve)
        {
            kp.Dispose();
            throw new NexSecurityException($"seed file '{path}' holds a curve (xkey) seed; an issuer needs a signing seed (SA…)");
        }

        return kp;
    }

    /// <summary>Loads the publisher curve key, creating it (and the directory) on first use.</summary>
    /// <param name="home">The home directory, or null for the default.</param>
    /// <returns>The curve key pair (seed <c>SX…</c>).</returns>
    /// <exception cref="NexSecurityException">The file exists but is invalid or not a curve seed, or cannot be written.</exception>
    public static KeyPair LoadOrCreateXkey(string? home = null)
    {
        var path = XkeyPath(home);
        EnsureDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var kp = NexKeys.LoadOrCreateSeedFile(path, NexKeys.CreateCurve);
        if (kp.Prefix != PrefixByte.Curve)
        {
            kp.Dispose();
            throw new NexSecurityException($"seed file '{path}' does not hold a curve seed (SX…)");
        }

        return kp;
    }

    private static void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
                return;
            }

            Directory.CreateDirectory(directory, DirectoryMode);

            // As 0.2's MkdirAll(0770), but without the umask narrowing it.
            File.SetUnixFileMode(directory, DirectoryMode);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new NexSecurityException($"could not create directory '{directory}': {ex.Message}", ex);
        }
    }
}
