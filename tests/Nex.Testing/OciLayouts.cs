using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Nex.Testing;

/// <summary>One entry of a test image layer: a file (bytes), a directory (null bytes, no link) or a symlink.</summary>
public sealed record LayerEntry(string Path, byte[]? Bytes = null, string? LinkTarget = null, UnixFileMode Mode = (UnixFileMode)0b111_101_101);

/// <summary>Builds OCI image layout tarballs for tests, the way <c>skopeo copy … oci-archive:</c> lays them out.</summary>
public static class OciLayouts
{
    /// <summary>An image of the given layers (applied in order) and run configuration.</summary>
    public static byte[] Image(IEnumerable<IEnumerable<LayerEntry>> layers, string[] entrypoint, string[] cmd, string[] env, string workingDir = "")
    {
        var blobs = new Dictionary<string, byte[]>();
        string Add(byte[] bytes)
        {
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            blobs[digest] = bytes;
            return digest;
        }

        var layerDescriptors = layers.Select(layer =>
        {
            var bytes = Layer(layer);
            return new { mediaType = "application/vnd.oci.image.layer.v1.tar+gzip", digest = Add(bytes), size = bytes.Length };
        }).ToArray();
        var config = JsonSerializer.SerializeToUtf8Bytes(new
        {
            architecture = "amd64",
            os = "linux",
            config = new { Entrypoint = entrypoint, Cmd = cmd, Env = env, WorkingDir = workingDir },
            rootfs = new { type = "layers", diff_ids = layerDescriptors.Select(l => l.digest).ToArray() },
        });
        var configDigest = Add(config);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.oci.image.manifest.v1+json",
            config = new { mediaType = "application/vnd.oci.image.config.v1+json", digest = configDigest, size = config.Length },
            layers = layerDescriptors,
        });
        var manifestDigest = Add(manifest);
        var index = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            manifests = new[] { new { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = manifestDigest, size = manifest.Length, platform = new { architecture = "amd64", os = "linux" } } },
        });

        using var output = new MemoryStream();
        using (var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            void File(string name, byte[] bytes) => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
            File("oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"));
            File("index.json", index);
            foreach (var (digest, bytes) in blobs)
            {
                File("blobs/sha256/" + digest[7..], bytes);
            }
        }

        return output.ToArray();
    }

    /// <summary>One gzipped layer.</summary>
    public static byte[] Layer(IEnumerable<LayerEntry> entries)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var entry in entries)
            {
                PaxTarEntry e = entry.LinkTarget is { } link
                    ? new PaxTarEntry(TarEntryType.SymbolicLink, entry.Path) { LinkName = link }
                    : entry.Bytes is { } bytes
                        ? new PaxTarEntry(TarEntryType.RegularFile, entry.Path) { DataStream = new MemoryStream(bytes), Mode = entry.Mode }
                        : new PaxTarEntry(TarEntryType.Directory, entry.Path) { Mode = entry.Mode };
                tar.WriteEntry(e);
            }
        }

        return output.ToArray();
    }

    /// <summary>A whole directory tree as layer entries (files, directories, symlinks), under <paramref name="prefix"/>.</summary>
    public static IEnumerable<LayerEntry> Tree(string directory, string prefix)
    {
        yield return new LayerEntry(prefix + "/");
        foreach (var path in Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
        {
            var name = prefix + "/" + System.IO.Path.GetRelativePath(directory, path).Replace('\\', '/');
            var info = new FileInfo(path);
            if (info.LinkTarget is { } target)
            {
                yield return new LayerEntry(name, LinkTarget: target);
            }
            else if (Directory.Exists(path))
            {
                yield return new LayerEntry(name + "/");
            }
            else
            {
                yield return new LayerEntry(name, File.ReadAllBytes(path), Mode: OperatingSystem.IsWindows() ? (UnixFileMode)0b110_100_100 : File.GetUnixFileMode(path));
            }
        }
    }
}
