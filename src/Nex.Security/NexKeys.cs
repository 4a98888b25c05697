using System.Text;
using NATS.NKeys;

namespace Nex.Security;

/// <summary>
/// NKey creation, seed parsing and seed-file handling (spec §2.3).
/// Seed files hold one NKey seed (<c>S…</c>) followed by a newline and are written with mode 0600 on Unix.
/// </summary>
public static class NexKeys
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates a new account key pair (public <c>A…</c>, seed <c>SA…</c>), used as a workload JWT issuer.</summary>
    /// <returns>The new key pair.</returns>
    public static KeyPair CreateAccount() => KeyPair.CreatePair(PrefixByte.Account);

    /// <summary>Creates a new curve (XKey) key pair (public <c>X…</c>, seed <c>SX…</c>) for xkv1 encryption.</summary>
    /// <returns>The new key pair.</returns>
    public static KeyPair CreateCurve() => KeyPair.CreatePair(PrefixByte.Curve);

    /// <summary>Creates a new server key pair (public <c>N…</c>, seed <c>SN…</c>), used as a node identity.</summary>
    /// <returns>The new key pair.</returns>
    public static KeyPair CreateServer() => KeyPair.CreatePair(PrefixByte.Server);

    /// <summary>Creates a new user key pair (public <c>U…</c>, seed <c>SU…</c>).</summary>
    /// <returns>The new key pair.</returns>
    public static KeyPair CreateUser() => KeyPair.CreatePair(PrefixByte.User);

    /// <summary>
    /// Parses an NKey seed of any type. Surrounding whitespace and newlines are ignored.
    /// </summary>
    /// <param name="seed">The encoded seed (<c>S…</c>).</param>
    /// <returns>The key pair.</returns>
    /// <exception cref="NexSecurityException">The text is not a valid seed (message starts with <c>invalid seed: </c>).</exception>
    public static KeyPair FromSeed(string seed)
    {
        var trimmed = (seed ?? string.Empty).Trim();
        if (trimmed.Length == 0)
        {
            throw new NexSecurityException("invalid seed: seed is empty");
        }

        if (trimmed[0] != 'S')
        {
            throw new NexSecurityException("invalid seed: not an nkey seed (seeds start with 'S')");
        }

        try
        {
            return KeyPair.FromSeed(trimmed);
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            throw new NexSecurityException($"invalid seed: {CryptoFailures.Describe(ex)}", ex);
        }
    }

    /// <summary>Reads a seed file (trailing newline and surrounding whitespace tolerated).</summary>
    /// <param name="path">The seed file path.</param>
    /// <returns>The key pair.</returns>
    /// <exception cref="NexSecurityException">The file cannot be read or does not hold a valid seed; the message names the file.</exception>
    public static KeyPair LoadSeedFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
            throw new NexSecurityException($"could not read seed file '{path}': {ex.Message}", ex);
        }

        try
        {
            return FromSeed(text);
        }
        catch (NexSecurityException ex)
        {
            throw new NexSecurityException($"could not load seed file '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Writes the key pair's seed followed by a newline, creating missing directories.
    /// An existing file is overwritten. On Unix the file mode is set to 0600.
    /// </summary>
    /// <param name="path">The seed file path.</param>
    /// <param name="kp">A key pair that holds a seed.</param>
    /// <exception cref="NexSecurityException">The key pair has no seed or the file cannot be written.</exception>
    public static void WriteSeedFile(string path, KeyPair kp)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(kp);
        WriteSeed(path, kp, createNew: false);
    }

    /// <summary>
    /// Loads the seed file when it exists; otherwise creates a key pair with <paramref name="create"/>,
    /// writes it as by <see cref="WriteSeedFile"/> and returns it. An existing file is never overwritten.
    /// </summary>
    /// <param name="path">The seed file path.</param>
    /// <param name="create">Creates the key pair when the file does not exist, e.g. <see cref="CreateAccount"/>.</param>
    /// <returns>The loaded or created key pair.</returns>
    /// <exception cref="NexSecurityException">The file exists but is invalid, or cannot be written.</exception>
    public static KeyPair LoadOrCreateSeedFile(string path, Func<KeyPair> create)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(create);
        if (File.Exists(path))
        {
            return LoadSeedFile(path);
        }

        var kp = create() ?? throw new InvalidOperationException("the key pair factory returned null");
        try
        {
            WriteSeed(path, kp, createNew: true);
            return kp;
        }
        catch (NexSecurityException) when (File.Exists(path))
        {
            // Another process created the file first: use its key.
            kp.Dispose();
            return LoadSeedFile(path);
        }
    }

    /// <summary>
    /// True when <paramref name="key"/> is a well-formed public NKey (valid base32 and CRC) of the type
    /// given by <paramref name="prefix"/>: <c>O</c>, <c>A</c>, <c>U</c>, <c>N</c>, <c>C</c> or <c>X</c>.
    /// </summary>
    /// <param name="key">The public key text.</param>
    /// <param name="prefix">The expected first character.</param>
    /// <returns>Whether the key is valid; false for unknown prefixes, seeds and null.</returns>
    public static bool IsValidPublicKey(string key, char prefix) =>
        NKeyPrefixes.FromChar(prefix) is { } p && NKeyPrefixes.IsValid(key, p);

    private static void WriteSeed(string path, KeyPair kp, bool createNew)
    {
        string seed;
        try
        {
            seed = kp.GetSeed();
        }
        catch (Exception ex) when (CryptoFailures.IsBadInput(ex))
        {
            throw new NexSecurityException($"could not write seed file '{path}': the key pair has no seed", ex);
        }

        try
        {
            var full = Path.GetFullPath(path);
            var directory = Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            var options = new FileStreamOptions
            {
                Mode = createNew ? FileMode.CreateNew : FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerReadWrite;
            }

            using var stream = new FileStream(full, options);
            if (!OperatingSystem.IsWindows())
            {
                // UnixCreateMode only applies to new files; tighten an existing one before writing the secret.
                File.SetUnixFileMode(stream.SafeFileHandle, OwnerReadWrite);
            }

            stream.Write(Encoding.ASCII.GetBytes(seed + "\n"));
            stream.Flush(flushToDisk: true);
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
            throw new NexSecurityException($"could not write seed file '{path}': {ex.Message}", ex);
        }
    }

    private static bool IsIoFailure(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException
            or System.Security.SecurityException;
}
