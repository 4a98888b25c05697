using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Nex.Node.Machines.Container;

/// <summary>What to build.</summary>
/// <param name="Output">The directory that receives <c>rootfs/</c> (replaced atomically).</param>
/// <param name="AgentDirectory">Where the published NativeAOT <c>nex-agent</c> and its native libraries are.</param>
/// <param name="ExtraPackages">Debian packages added to the base set (with their dependencies).</param>
/// <param name="MicroVm">Also build the microVM kernel, initramfs and runtime image into <c>vm/</c> beside the rootfs.</param>
public sealed record RootfsBuildOptions(string Output, string AgentDirectory, IReadOnlyList<string> ExtraPackages, bool MicroVm = false);

/// <summary>
/// <c>nex rootfs build</c>: the container sandbox's root filesystem, made from Debian packages (no
/// Docker, no debootstrap, no root needed beyond apt's own): glibc, libstdc++, OpenSSL, zlib, the NATS
/// C client (services written against it run as they are), busybox for a shell and the usual tools, the
/// Mozilla CA bundle, and our agent with its V8 and Wasmtime libraries. The packages are fetched with
/// <c>apt-get download</c> and unpacked with <c>dpkg-deb -x</c>; every file gets the same timestamp and
/// a manifest records each package version and the agent's digest, so the same inputs give the same tree.
/// </summary>
public static class RootfsBuilder
{
    /// <summary>The base packages (their dependencies are added).</summary>
    public static readonly IReadOnlyList<string> BasePackages = ["libc6", "libgcc-s1", "libstdc++6", "libssl3", "zlib1g", "busybox-static"];

    private static readonly string[] AgentFiles = ["nex-agent", "ClearScriptV8.linux-x64.so", "libwasmtime.so"];

    /// <summary>Builds the tree; returns its path.</summary>
    /// <param name="options">What to build.</param>
    /// <param name="progress">Receives one line per step.</param>
    /// <param name="cancellationToken">Cancels the build (the previous tree stays).</param>
    /// <returns>The root filesystem directory.</returns>
    /// <exception cref="InvalidOperationException">A step failed; the message says which and why.</exception>
    public static async Task<string> BuildAsync(RootfsBuildOptions options, Action<string> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(progress);
        var agent = Path.Combine(options.AgentDirectory, "nex-agent");
        if (!IsElf(agent))
        {
            throw new InvalidOperationException($"no native agent at {agent}: publish it first (./nex does, into .build/nex), or pass --agent DIR");
        }

        CreateReadableDirectory(options.Output);
        var final = Path.Combine(options.Output, "rootfs");
        var staging = Path.Combine(options.Output, $".rootfs-{Environment.ProcessId}");
        var debs = Path.Combine(options.Output, ".debs");
        DeleteTree(staging);
        Directory.CreateDirectory(staging);
        Directory.CreateDirectory(debs);
        try
        {
            progress("resolving Debian packages");
            var wanted = new List<string>(BasePackages);
            if (await NatsClientPackageAsync(cancellationToken).ConfigureAwait(false) is { } nats)
            {
                wanted.Add(nats);
            }

            wanted.AddRange(options.ExtraPackages);
            var packages = await ClosureAsync(wanted, cancellationToken).ConfigureAwait(false);

            progress($"downloading {packages.Count + 1} packages (apt-get download)");
            var files = await DownloadAsync([.. packages, "ca-certificates"], debs, cancellationToken).ConfigureAwait(false);

            progress("unpacking");
            var versions = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (package, deb) in files)
            {
                versions[package] = await HostCommand.RunAsync("dpkg-deb", ["-f", deb, "Version"], cancellationToken).ConfigureAwait(false);
                if (package == "ca-certificates")
                {
                    continue; // only its certificates: its scripts need perl and debconf
                }

                await HostCommand.RunAsync("dpkg-deb", ["-x", deb, staging], cancellationToken).ConfigureAwait(false);
            }

            progress("CA bundle, busybox applets, users");
            await WriteCaBundleAsync(files["ca-certificates"], staging, cancellationToken).ConfigureAwait(false);
            await LinkBusyboxAsync(staging, cancellationToken).ConfigureAwait(false);
            WriteSystemFiles(staging);

            progress("agent");
            var agentDir = Path.Combine(staging, "nex", "agent");
            Directory.CreateDirectory(agentDir);
            foreach (var name in AgentFiles)
            {
                var source = Path.Combine(options.AgentDirectory, name);
                if (File.Exists(source))
                {
                    File.Copy(source, Path.Combine(agentDir, name), overwrite: true);
                }
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(Path.Combine(agentDir, "nex-agent"), (UnixFileMode)0b111_101_101);
            }

            if (Nex.Processes.ChildProcessLauncher.FindOnPath("ldconfig") is { } ldconfig)
            {
                await HostCommand.RunAsync(ldconfig, ["-r", staging], cancellationToken).ConfigureAwait(false);
            }

            var manifest = new Dictionary<string, object>
            {
                ["packages"] = versions,
                ["agent_sha256"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(agent))),
                ["builder"] = NexVersion.Current,
            };
            File.WriteAllText(Path.Combine(staging, "nex", "rootfs.json"), JsonSerializer.Serialize(manifest, ManifestJson.Default.DictionaryStringObject));

            progress("fixing timestamps and modes");
            StampTree(staging);
            MakeReadable(staging);

            DeleteTree(final);
            Directory.Move(staging, final);
            if (options.MicroVm)
            {
                await MicroVm.VmImageBuilder.BuildAsync(Path.Combine(options.Output, "vm"), final, debs, progress, cancellationToken).ConfigureAwait(false);
                MakeReadable(Path.Combine(options.Output, "vm"));
            }

            return final;
        }
        finally
        {
            DeleteTree(staging);
        }
    }

    // The output and the directories made for it (e.g. /var/lib/nex) whatever the umask: a root node's
    // sandbox runs as an unprivileged user that must reach the images.
    private static void CreateReadableDirectory(string path)
    {
        var full = Path.GetFullPath(path);
        var missing = new List<string>();
        for (var dir = full; dir is not null && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
        {
            missing.Add(dir);
        }

        Directory.CreateDirectory(full);
        if (!OperatingSystem.IsWindows())
        {
            foreach (var dir in missing.Append(full).Distinct())
            {
                File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | (UnixFileMode)0b111_101_101);
            }
        }
    }

    /// <summary>Adds read (and, for directories and executables, search/execute) permission for everyone to a
    /// tree: directories 0755, files 0644 or 0755 at least. Symbolic links are left alone.</summary>
    /// <param name="root">The tree.</param>
    internal static void MakeReadable(string root)
    {
        if (OperatingSystem.IsWindows() || !Directory.Exists(root))
        {
            return;
        }

        const UnixFileMode everyoneReadsAndSearches = (UnixFileMode)0b111_101_101;
        const UnixFileMode everyoneReads = (UnixFileMode)0b110_100_100;
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(root, File.GetUnixFileMode(root) | everyoneReadsAndSearches);
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            if (entry.LinkTarget is not null)
            {
                continue;
            }

            var mode = entry.UnixFileMode;
            var wanted = entry is DirectoryInfo || (mode & anyExecute) != 0 ? everyoneReadsAndSearches : everyoneReads;
            if ((mode & wanted) != wanted)
            {
                entry.UnixFileMode = mode | wanted;
            }
        }
    }

    /// <summary>The runtime package of the NATS C client (<c>libnatsX.Y</c>), from what <c>libnats-dev</c> depends on.</summary>
    private static async Task<string?> NatsClientPackageAsync(CancellationToken cancellationToken)
    {
        try
        {
            var output = await HostCommand.RunAsync("apt-cache", ["depends", "libnats-dev"], cancellationToken).ConfigureAwait(false);
            return output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("Depends: libnats", StringComparison.Ordinal))
                .Select(l => l["Depends: ".Length..].Trim()).FirstOrDefault();
        }
        catch (InvalidOperationException)
        {
            return null; // not in this distribution's archive: services bring their own
        }
    }

    private static async Task<List<string>> ClosureAsync(IEnumerable<string> packages, CancellationToken cancellationToken)
    {
        var output = await HostCommand.RunAsync("apt-cache", ["depends", "--recurse", "--important", .. packages], cancellationToken).ConfigureAwait(false);
        return [.. output.Split('\n').Where(l => l.Length > 0 && !char.IsWhiteSpace(l[0]) && !l.StartsWith('<')).Select(l => l.Trim()).Distinct().Order(StringComparer.Ordinal)];
    }

    private static async Task<Dictionary<string, string>> DownloadAsync(IReadOnlyList<string> packages, string directory, CancellationToken cancellationToken)
    {
        try
        {
            await HostCommand.RunAsync("apt-get", ["download", "-q", .. packages], cancellationToken, directory).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Stale package lists name versions the mirror no longer has: refresh once.
            await HostCommand.RunAsync("apt-get", ["update", "-qq"], cancellationToken).ConfigureAwait(false);
            await HostCommand.RunAsync("apt-get", ["download", "-q", .. packages], cancellationToken, directory).ConfigureAwait(false);
        }

        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var package in packages)
        {
            // Name_version_arch.deb; the newest download of a package wins when several are cached.
            var deb = Directory.EnumerateFiles(directory, $"{package}_*.deb").OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
                ?? throw new InvalidOperationException($"apt-get download did not produce {package}_*.deb");
            found[package] = deb;
        }

        return found;
    }

    private static async Task WriteCaBundleAsync(string deb, string root, CancellationToken cancellationToken)
    {
        var unpacked = Path.Combine(root, ".ca");
        await HostCommand.RunAsync("dpkg-deb", ["-x", deb, unpacked], cancellationToken).ConfigureAwait(false);
        var certs = Path.Combine(unpacked, "usr", "share", "ca-certificates", "mozilla");
        var bundle = new StringBuilder();
        if (Directory.Exists(certs))
        {
            foreach (var file in Directory.EnumerateFiles(certs, "*.crt").Order(StringComparer.Ordinal))
            {
                bundle.Append(File.ReadAllText(file).TrimEnd()).Append('\n');
            }
        }

        var target = Path.Combine(root, "etc", "ssl", "certs");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "ca-certificates.crt"), bundle.ToString());
        DeleteTree(unpacked);
    }

    private static async Task LinkBusyboxAsync(string root, CancellationToken cancellationToken)
    {
        var busybox = Path.Combine(root, "bin", "busybox");
        var applets = await HostCommand.RunAsync(busybox, ["--list"], cancellationToken).ConfigureAwait(false);
        foreach (var applet in applets.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var link = Path.Combine(root, "bin", applet);
            if (!File.Exists(link) && !Directory.Exists(link) && applet.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '['))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }
    }

    private static void WriteSystemFiles(string root)
    {
        foreach (var dir in new[] { "tmp", "proc", "sys", "dev", "run/nex", "etc", "usr/local/bin", "var/tmp" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(root, "tmp"), (UnixFileMode)0b1_111_111_111);
        }

        var etc = Path.Combine(root, "etc");
        File.WriteAllText(Path.Combine(etc, "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n");
        File.WriteAllText(Path.Combine(etc, "group"), "root:x:0:\nnogroup:x:65534:\n");
        File.WriteAllText(Path.Combine(etc, "hosts"), "127.0.0.1 localhost\n::1 localhost\n");
        File.WriteAllText(Path.Combine(etc, "nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
        File.WriteAllText(Path.Combine(etc, "resolv.conf"), "");
        File.WriteAllText(Path.Combine(etc, "os-release"), "NAME=\"Nex sandbox\"\nID=nex\nID_LIKE=debian\n");
    }

    /// <summary>The one timestamp of every built file: SOURCE_DATE_EPOCH, or 2024-01-01.</summary>
    internal static DateTime Epoch =>
        long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTime.UnixEpoch.AddSeconds(seconds)
            : new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    // Same inputs, same tree: every entry gets the same timestamp.
    private static void StampTree(string root)
    {
        var epoch = Epoch;
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var info = new FileInfo(entry);
            if (info.LinkTarget is not null)
            {
                continue; // .NET would follow the link
            }

            File.SetLastWriteTimeUtc(entry, epoch);
        }
    }

    private static bool IsElf(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return file.Read(magic) == 4 && magic.SequenceEqual("\u007fELF"u8);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void DeleteTree(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}

/// <summary>JSON for the manifest.</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(SortedDictionary<string, string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(OciImageConfig))]
internal sealed partial class ManifestJson : System.Text.Json.Serialization.JsonSerializerContext;
