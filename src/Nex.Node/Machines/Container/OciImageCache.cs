using System.Text.Json;

namespace Nex.Node.Machines.Container;

/// <summary>
/// Unpacked OCI images, one per artifact digest, under <c>$TMPDIR/nex-oci/&lt;sha256&gt;</c>: a redeploy (or a
/// replica, or a restart) of the same image reuses the tree. Trees are unpacked beside and renamed into
/// place, so two nodes on one host never see half an image. Each sandbox using an image holds it (a file
/// named after the node's pid and the machine), and images nobody holds and nobody used for
/// <see cref="UnusedFor"/> are removed (<see cref="Prune"/>), so the cache does not grow forever.
/// </summary>
internal static class OciImageCache
{
    private const string LastUsedFile = "last-used";
    private const string HoldersDirectory = "holders";
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>The directory of unpacked images.</summary>
    public static string Directory { get; } = Path.Combine(Path.GetTempPath(), "nex-oci");

    /// <summary>How long an image nobody runs stays unpacked.</summary>
    public static TimeSpan UnusedFor { get; } = TimeSpan.FromHours(24);

    /// <summary>Marks the image under <paramref name="imageRoot"/> as in use by <paramref name="machineId"/> until the lease is disposed.</summary>
    /// <param name="imageRoot">The root returned by <see cref="UnpackAsync"/>.</param>
    /// <param name="machineId">The machine using it.</param>
    /// <returns>The lease.</returns>
    public static IDisposable Hold(string imageRoot, string machineId)
    {
        var imageDir = Path.GetDirectoryName(Path.GetFullPath(imageRoot))!;
        var holders = Path.Combine(imageDir, HoldersDirectory);
        System.IO.Directory.CreateDirectory(holders);
        var holder = Path.Combine(holders, $"{Environment.ProcessId}.{machineId}");
        File.WriteAllBytes(holder, []);
        Touch(imageDir);
        return new Lease(imageDir, holder);
    }

    /// <summary>
    /// Removes the images that no live process holds and nobody used since <paramref name="now"/> minus
    /// <paramref name="unusedFor"/>, and unpacks a crash left half done.
    /// </summary>
    /// <param name="directory">The cache directory.</param>
    /// <param name="unusedFor">How long an unused image is kept.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The digests removed.</returns>
    public static IReadOnlyList<string> Prune(string directory, TimeSpan unusedFor, DateTimeOffset now)
    {
        var removed = new List<string>();
        if (!System.IO.Directory.Exists(directory))
        {
            return removed;
        }

        var cutoff = (now - unusedFor).UtcDateTime;
        Gate.Wait();
        try
        {
            foreach (var dir in System.IO.Directory.EnumerateDirectories(directory))
            {
                var name = Path.GetFileName(dir);
                try
                {
                    if (name.StartsWith('.'))
                    {
                        // A staging tree: in use only while its unpack runs, which takes seconds.
                        if (System.IO.Directory.GetLastWriteTimeUtc(dir) < (now - TimeSpan.FromHours(1)).UtcDateTime)
                        {
                            System.IO.Directory.Delete(dir, recursive: true);
                        }

                        continue;
                    }

                    if (IsHeld(dir) || LastUsed(dir) >= cutoff)
                    {
                        continue;
                    }

                    // Renamed first, so a node reading the cache sees the image whole or not at all.
                    var doomed = Path.Combine(directory, $".removed-{name}-{Guid.NewGuid():N}");
                    System.IO.Directory.Move(dir, doomed);
                    System.IO.Directory.Delete(doomed, recursive: true);
                    removed.Add(name);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Another node is using or removing it: leave it for the next round.
                }
            }
        }
        finally
        {
            Gate.Release();
        }

        return removed;
    }

    private static bool IsHeld(string imageDir)
    {
        var holders = Path.Combine(imageDir, HoldersDirectory);
        if (!System.IO.Directory.Exists(holders))
        {
            return false;
        }

        var held = false;
        foreach (var file in System.IO.Directory.EnumerateFiles(holders))
        {
            var name = Path.GetFileName(file);
            var dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0 && int.TryParse(name.AsSpan(0, dot), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var pid) && Nex.Processes.Posix.IsAlive(pid))
            {
                held = true;
            }
            else
            {
                File.Delete(file); // its node died without letting go
            }
        }

        return held;
    }

    private static DateTime LastUsed(string imageDir)
    {
        var file = Path.Combine(imageDir, LastUsedFile);
        return File.Exists(file) ? File.GetLastWriteTimeUtc(file) : System.IO.Directory.GetLastWriteTimeUtc(imageDir);
    }

    private static void Touch(string imageDir)
    {
        var file = Path.Combine(imageDir, LastUsedFile);
        File.WriteAllBytes(file, []); // rewriting sets the modification time
    }

    /// <summary>The image's root filesystem (unpacked if needed) and its run configuration.</summary>
    /// <param name="tarball">The OCI image layout tarball.</param>
    /// <param name="sha256">Its digest (the cache key).</param>
    /// <param name="cancellationToken">Cancels the wait for another unpack.</param>
    /// <exception cref="InvalidDataException">Not a usable OCI image layout.</exception>
    public static async Task<(string Root, OciImageConfig Config)> UnpackAsync(byte[] tarball, string sha256, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(Directory, sha256);
        var configFile = Path.Combine(dir, "config.json");
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!File.Exists(configFile))
            {
                var staging = Path.Combine(Directory, $".{sha256}-{Guid.NewGuid():N}");
                try
                {
                    var config = await Task.Run(() => OciImage.Unpack(tarball, Path.Combine(staging, "rootfs")), cancellationToken).ConfigureAwait(false);
                    await File.WriteAllBytesAsync(Path.Combine(staging, "config.json"), JsonSerializer.SerializeToUtf8Bytes(config, ManifestJson.Default.OciImageConfig), cancellationToken).ConfigureAwait(false);
                    try
                    {
                        System.IO.Directory.Move(staging, dir);
                    }
                    catch (IOException) when (File.Exists(configFile))
                    {
                        // Another node on this host unpacked it first.
                    }
                }
                finally
                {
                    if (System.IO.Directory.Exists(staging))
                    {
                        System.IO.Directory.Delete(staging, recursive: true);
                    }
                }
            }

            Touch(dir);
            var cached = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(configFile, cancellationToken).ConfigureAwait(false), ManifestJson.Default.OciImageConfig)
                ?? throw new InvalidDataException("the cached image configuration is empty");
            return (Path.Combine(dir, "rootfs"), cached);
        }
        finally
        {
            Gate.Release();
        }
    }

    private sealed class Lease(string imageDir, string holder) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                try
                {
                    File.Delete(holder);
                    Touch(imageDir); // unused from now on: the clock starts here
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Pruned meanwhile, or the cache was removed by hand.
                }
            }
        }
    }
}
