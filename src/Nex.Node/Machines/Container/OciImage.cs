using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;

namespace Nex.Node.Machines.Container;

/// <summary>What an OCI image says about how to run it.</summary>
/// <param name="Entrypoint">The entrypoint (may be empty).</param>
/// <param name="Cmd">Default arguments (the whole command when there is no entrypoint).</param>
/// <param name="Env"><c>KEY=VALUE</c> pairs.</param>
/// <param name="WorkingDir">The working directory, or empty.</param>
public sealed record OciImageConfig(IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Cmd, IReadOnlyList<string> Env, string WorkingDir);

/// <summary>
/// Unpacks an OCI image layout tarball (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/sha256/…</c>; what
/// <c>skopeo copy … oci-archive:</c>, <c>buildah push … oci-archive:</c> or <c>docker buildx … type=oci</c>
/// write) into a root filesystem: the first linux/amd64 manifest's layers in order, with whiteouts. Entries
/// never land outside the root: <c>..</c> and absolute names are dropped, and every path is resolved
/// through the image's own symlinks as if the root were <c>/</c>.
/// </summary>
public static class OciImage
{
    /// <summary>Mount points the container sandbox binds into every image.</summary>
    internal static readonly string[] MountPoints = ["proc", "dev", "sys", "tmp", "run/nex", ".nex"];

    /// <summary>Unpacks <paramref name="tarball"/> into <paramref name="root"/> (which must be empty or missing).</summary>
    /// <param name="tarball">The image layout tarball.</param>
    /// <param name="root">The root filesystem directory to create.</param>
    /// <returns>The image's run configuration.</returns>
    /// <exception cref="InvalidDataException">The tarball is not a usable OCI image layout.</exception>
    public static OciImageConfig Unpack(byte[] tarball, string root)
    {
        ArgumentNullException.ThrowIfNull(tarball);
        var blobs = ReadLayout(tarball);
        var index = Json(blobs, "index.json");
        var manifest = Json(blobs, Blob(FirstManifest(blobs, index)));
        var config = Json(blobs, Blob(manifest.GetProperty("config").GetProperty("digest").GetString()!));
        Directory.CreateDirectory(root);
        foreach (var layer in manifest.GetProperty("layers").EnumerateArray())
        {
            var bytes = blobs.GetValueOrDefault(Blob(layer.GetProperty("digest").GetString()!))
                ?? throw new InvalidDataException($"layer {layer.GetProperty("digest").GetString()} is missing from the layout");
            ApplyLayer(bytes, root);
        }

        foreach (var mount in MountPoints)
        {
            Directory.CreateDirectory(SecureJoin(root, mount));
        }

        var run = config.TryGetProperty("config", out var c) ? c : default;
        return new OciImageConfig(Strings(run, "Entrypoint"), Strings(run, "Cmd"), Strings(run, "Env"), run.ValueKind == JsonValueKind.Object && run.TryGetProperty("WorkingDir", out var wd) ? wd.GetString() ?? "" : "");
    }

    private static Dictionary<string, byte[]> ReadLayout(byte[] tarball)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var stream = IsGzip(tarball) ? (Stream)new GZipStream(new MemoryStream(tarball), CompressionMode.Decompress) : new MemoryStream(tarball);
        try
        {
            using var reader = new TarReader(stream);
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
                {
                    using var copy = new MemoryStream();
                    data.CopyTo(copy);
                    files[Normalize(entry.Name)] = copy.ToArray();
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"not a tar archive: {ex.Message}", ex);
        }

        return files.ContainsKey("index.json") ? files : throw new InvalidDataException("not an OCI image layout (no index.json)");
    }

    private static string FirstManifest(Dictionary<string, byte[]> blobs, JsonElement index)
    {
        foreach (var entry in index.GetProperty("manifests").EnumerateArray())
        {
            var digest = entry.GetProperty("digest").GetString()!;
            var mediaType = entry.TryGetProperty("mediaType", out var mt) ? mt.GetString() ?? "" : "";
            if (entry.TryGetProperty("platform", out var platform)
                && (platform.GetProperty("os").GetString() != "linux" || platform.GetProperty("architecture").GetString() != "amd64"))
            {
                continue;
            }

            // A nested index (multi-platform image): its linux/amd64 manifest.
            return mediaType.Contains("index", StringComparison.Ordinal) ? FirstManifest(blobs, Json(blobs, Blob(digest))) : digest;
        }

        throw new InvalidDataException("the image has no linux/amd64 manifest");
    }

    private static void ApplyLayer(byte[] layer, string root)
    {
        using var stream = IsGzip(layer) ? (Stream)new GZipStream(new MemoryStream(layer), CompressionMode.Decompress) : new MemoryStream(layer);
        using var reader = new TarReader(stream);
        while (reader.GetNextEntry() is { } entry)
        {
            var name = Normalize(entry.Name);
            if (name.Length == 0 || name.Split('/').Any(p => p == ".."))
            {
                continue; // never outside the root
            }

            var file = Path.GetFileName(name);
            var parent = Path.GetDirectoryName(name) ?? "";
            if (file == ".wh..wh..opq")
            {
                var dir = SecureJoin(root, parent);
                if (Directory.Exists(dir))
                {
                    foreach (var child in Directory.EnumerateFileSystemEntries(dir))
                    {
                        Remove(child);
                    }
                }

                continue;
            }

            if (file.StartsWith(".wh.", StringComparison.Ordinal))
            {
                Remove(SecureJoin(root, Path.Combine(parent, file[4..])));
                continue;
            }

            var target = SecureJoin(root, name);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    if (File.Exists(target) || IsLink(target))
                    {
                        File.Delete(target);
                    }

                    Directory.CreateDirectory(target);
                    SetMode(target, entry.Mode);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    Remove(target);
                    using (var output = File.Create(target))
                    {
                        entry.DataStream?.CopyTo(output);
                    }

                    SetMode(target, entry.Mode);
                    break;
                case TarEntryType.SymbolicLink:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    Remove(target);
                    File.CreateSymbolicLink(target, entry.LinkName);
                    break;
                case TarEntryType.HardLink:
                    var source = SecureJoin(root, Normalize(entry.LinkName));
                    if (File.Exists(source))
                    {
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        Remove(target);
                        File.Copy(source, target);
                    }

                    break;
                default:
                    break; // devices and fifos: the sandbox has its own /dev
            }
        }
    }

    /// <summary>
    /// <paramref name="root"/> joined with <paramref name="relative"/>, every existing symlink on the way
    /// resolved inside the root (an absolute target is relative to the root; <c>..</c> stops at the root).
    /// The last component is not followed: it is what the caller creates or removes.
    /// </summary>
    internal static string SecureJoin(string root, string relative)
    {
        var parts = new List<string>();
        var pending = new Queue<string>(relative.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Dequeue();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            var candidate = Path.Combine(root, Path.Combine([.. parts, part]));
            if (pending.Count > 0 && IsLink(candidate) && new FileInfo(candidate).LinkTarget is { } link)
            {
                if (++hops > 40)
                {
                    throw new InvalidDataException($"too many symlinks under {relative}");
                }

                if (link.StartsWith('/'))
                {
                    parts.Clear();
                }

                var rest = pending.ToArray();
                pending = new Queue<string>(link.Split('/', StringSplitOptions.RemoveEmptyEntries).Concat(rest));
                continue;
            }

            parts.Add(part);
        }

        return parts.Count == 0 ? root : Path.Combine(root, Path.Combine([.. parts]));
    }

    private static bool IsLink(string path) => (File.Exists(path) || Directory.Exists(path)) && new FileInfo(path).LinkTarget is not null;

    private static void Remove(string path)
    {
        if (IsLink(path) || File.Exists(path))
        {
            File.Delete(path);
        }
        else if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    private static string Normalize(string name)
    {
        name = name.Replace('\\', '/').TrimEnd('/');
        while (name.StartsWith("./", StringComparison.Ordinal) || name.StartsWith('/'))
        {
            name = name.StartsWith('/') ? name[1..] : name[2..];
        }

        return name == "." ? "" : name;
    }

    private static string Blob(string digest) => digest.StartsWith("sha256:", StringComparison.Ordinal) && digest.Length == 71 && digest[7..].All(char.IsAsciiHexDigitLower)
        ? "blobs/sha256/" + digest[7..]
        : throw new InvalidDataException($"unsupported digest '{digest}'");

    private static JsonElement Json(Dictionary<string, byte[]> blobs, string path) =>
        blobs.TryGetValue(path, out var bytes) ? JsonDocument.Parse(bytes).RootElement.Clone() : throw new InvalidDataException($"{path} is missing from the layout");

    private static string[] Strings(JsonElement obj, string property) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Select(v => v.GetString() ?? "")]
            : [];

    private static bool IsGzip(byte[] bytes) => bytes.Length > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}
