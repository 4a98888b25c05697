using System.Text.Json;

namespace Nex.Node.Machines.Container;

/// <summary>
/// Unpacked OCI images, one per artifact digest, under <c>$TMPDIR/nex-oci/&lt;sha256&gt;</c>: a redeploy (or a
/// replica, or a restart) of the same image reuses the tree. Trees are unpacked beside and renamed into
/// place, so two nodes on one host never see half an image.
/// </summary>
internal static class OciImageCache
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>The directory of unpacked images.</summary>
    public static string Directory { get; } = Path.Combine(Path.GetTempPath(), "nex-oci");

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

            var cached = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(configFile, cancellationToken).ConfigureAwait(false), ManifestJson.Default.OciImageConfig)
                ?? throw new InvalidDataException("the cached image configuration is empty");
            return (Path.Combine(dir, "rootfs"), cached);
        }
        finally
        {
            Gate.Release();
        }
    }
}
