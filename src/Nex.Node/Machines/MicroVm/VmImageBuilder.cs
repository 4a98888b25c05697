using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Nex.Protocol;

namespace Nex.Node.Machines.MicroVm;

/// <summary>
/// The microVM images: Debian's cloud kernel as an uncompressed <c>vmlinux</c> (QEMU boots it directly
/// through PVH, skipping decompression, which is slow under TCG); an initramfs holding the container root
/// filesystem's libraries and tools, the virtio network and block modules and an <c>/init</c> that brings the
/// network up, mounts the runtime image and runs the agent as the VM's init; and the runtime image: the
/// agent's directory (the agent, V8 and Wasmtime, ~110 MB) as a read-only ext4 disk that every VM shares
/// through virtio-blk, so no VM holds it in RAM, only the pages it reads (as Firecracker guests get their
/// runtime from a read-only root drive).
/// </summary>
internal static class VmImageBuilder
{
    /// <summary>The kernel file name in the image directory.</summary>
    public const string KernelName = "vmlinux";

    /// <summary>The initramfs file name in the image directory.</summary>
    public const string InitramfsName = "initramfs.cpio.gz";

    /// <summary>The runtime image file name in the image directory.</summary>
    public const string RuntimeImageName = "runtime.img";

    /// <summary>Where the agent finds its per-VM metadata (a second initramfs archive, per VM).</summary>
    public const string MetadataPath = "/nex/metadata.json";

    // In load order. Kernels that build virtio in (6.12) lack the first two: those are skipped.
    // virtio_blk before the network: the runtime image is mounted first.
    private static readonly string[] Modules = ["virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "failover", "net_failover", "virtio_net"];

    // The agent's directory: in the runtime image, mounted over this (empty) directory of the initramfs.
    private const string AgentDirectory = "nex/agent";

    // The runtime image's fixed identity, so the same files give the same image.
    private const string RuntimeImageUuid = "6e657872-756e-4074-8000-696d61676531";

    private const string Init = $$"""
        #!/bin/sh
        # Nex microVM init: mounts, network towards the host relay only, then the agent as PID 1.
        mount -t devtmpfs dev /dev
        mount -t proc proc /proc
        # A probe boot (does this accelerator work?) ends here.
        case " $(cat /proc/cmdline) " in *" nex.probe "*) echo NEX_PROBE_OK; poweroff -f;; esac
        mount -t sysfs sys /sys
        mount -t tmpfs -o mode=1777 tmp /tmp
        for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || echo "nex-vm: insmod $m failed"; done
        # The agent and its V8 and Wasmtime libraries: a read-only disk every VM shares (virtio-blk), not RAM.
        i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do usleep 100000; i=$((i+1)); done
        mount -t ext4 -o ro,noatime /dev/vda /nex/agent || { echo "nex-vm: cannot mount the runtime image /dev/vda"; poweroff -f; }
        ip link set lo up
        ip link set eth0 up
        ip addr add 10.0.2.15/24 dev eth0
        echo "nex-vm: booted in $(cut -d' ' -f1 /proc/uptime)s"
        export PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp TMPDIR=/tmp {{AgentEnvironment.Sandbox}}=true {{AgentEnvironment.MetadataFile}}=/nex/metadata.json
        case " $(cat /proc/cmdline) " in *" nex.snapshot "*)
          # A snapshot template: the node saves the VM while it waits here; each restored clone then gets a
          # seed for the kernel's random pool and its own identity on the console (not echoed back).
          stty -echo
          echo NEX_SNAPSHOT_READY
          IFS= read -r seed
          IFS= read -r metadata
          echo "$seed" > /dev/urandom
          (umask 077; printf '%s\n' "$metadata" > /nex/metadata.json)
          unset seed metadata
          export {{AgentEnvironment.ReseedCrng}}=1;;
        esac
        exec /nex/agent/nex-agent
        """;

    /// <summary>Builds <c>vmlinux</c>, the initramfs and the runtime image into <paramref name="output"/>.</summary>
    /// <param name="output">The image directory.</param>
    /// <param name="rootfs">A container root filesystem (from <see cref="Container.RootfsBuilder"/>).</param>
    /// <param name="work">A scratch directory for downloads.</param>
    /// <param name="progress">Receives one line per step.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <exception cref="InvalidOperationException">A step failed.</exception>
    public static async Task BuildAsync(string output, string rootfs, string work, Action<string> progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(output);
        Directory.CreateDirectory(work);
        progress("resolving the Debian cloud kernel");
        var depends = await HostCommand.RunAsync("apt-cache", ["depends", "linux-image-cloud-amd64"], cancellationToken).ConfigureAwait(false);
        var package = depends.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Depends: linux-image-", StringComparison.Ordinal))?["Depends: ".Length..].Trim()
            ?? throw new InvalidOperationException("apt-cache names no linux-image-*-cloud-amd64 package");

        var deb = Directory.EnumerateFiles(work, $"{package}_*.deb").FirstOrDefault();
        if (deb is null)
        {
            progress($"downloading {package}");
            await HostCommand.RunAsync("apt-get", ["download", "-q", package], cancellationToken, work).ConfigureAwait(false);
            deb = Directory.EnumerateFiles(work, $"{package}_*.deb").FirstOrDefault() ?? throw new InvalidOperationException($"apt-get download did not produce {package}");
        }

        var unpacked = Path.Combine(work, "kernel");
        if (Directory.Exists(unpacked))
        {
            Directory.Delete(unpacked, recursive: true);
        }

        await HostCommand.RunAsync("dpkg-deb", ["-x", deb, unpacked], cancellationToken).ConfigureAwait(false);

        progress("extracting vmlinux");
        var vmlinuz = Directory.EnumerateFiles(Path.Combine(unpacked, "boot"), "vmlinuz-*").First();
        var elf = await ExtractElfAsync(await File.ReadAllBytesAsync(vmlinuz, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        await File.WriteAllBytesAsync(Path.Combine(output, KernelName + ".tmp"), elf, cancellationToken).ConfigureAwait(false);
        File.Move(Path.Combine(output, KernelName + ".tmp"), Path.Combine(output, KernelName), overwrite: true);

        progress("initramfs");
        var moduleRoot = Directory.EnumerateDirectories(Path.Combine(unpacked, "lib", "modules")).First();
        var temp = Path.Combine(output, InitramfsName + ".tmp");
        await using (var file = File.Create(temp))
        {
            await using var gzip = new GZipStream(file, CompressionLevel.Fastest);
            var cpio = new CpioWriter(gzip);
            AddTree(cpio, rootfs);
            cpio.File("init", Encoding.UTF8.GetBytes(Init.Replace("\r", "", StringComparison.Ordinal) + "\n"), 0b111_101_101);
            cpio.Directory("lib/modules");
            var loaded = new List<string>();
            foreach (var module in Modules)
            {
                if (await ReadModuleAsync(moduleRoot, module, cancellationToken).ConfigureAwait(false) is { } bytes)
                {
                    cpio.File($"lib/modules/{module}.ko", bytes);
                    loaded.Add(module);
                }
            }

            cpio.File("lib/modules/order", Encoding.UTF8.GetBytes(string.Join(' ', loaded) + "\n"));

            cpio.Finish();
        }

        File.Move(temp, Path.Combine(output, InitramfsName), overwrite: true);
        Directory.Delete(unpacked, recursive: true);

        progress("runtime image (agent, V8, Wasmtime)");
        await BuildRuntimeImageAsync(Path.Combine(rootfs, AgentDirectory), Path.Combine(output, RuntimeImageName), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An e2fsprogs tool: on the PATH, or in the sbin directories a non-root PATH may leave out.</summary>
    /// <param name="name">The tool.</param>
    /// <returns>Its path, or null.</returns>
    internal static string? SystemTool(string name) =>
        Nex.Processes.ChildProcessLauncher.FindOnPath(name) ?? SbinDirectories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static readonly string[] SbinDirectories = ["/usr/sbin", "/sbin"];

    /// <summary>
    /// The runtime image: <paramref name="source"/> as an ext4 file system (built into the kernel, read with
    /// no decompression, which TCG would make slow; squashfs would be a module and a package more), with no
    /// journal (it is never written), a fixed UUID and hash seed, and every time set to
    /// <see cref="Container.RootfsBuilder.Epoch"/>: the same files give the same image.
    /// </summary>
    /// <param name="source">The agent's directory.</param>
    /// <param name="image">The image file (replaced).</param>
    /// <param name="cancellationToken">Cancels.</param>
    internal static async Task BuildRuntimeImageAsync(string source, string image, CancellationToken cancellationToken)
    {
        var mkfs = SystemTool("mkfs.ext4") ?? throw new InvalidOperationException("mkfs.ext4 not found: apt-get install e2fsprogs");
        var debugfs = SystemTool("debugfs") ?? throw new InvalidOperationException("debugfs not found: apt-get install e2fsprogs");
        var files = Directory.EnumerateFiles(source).Order(StringComparer.Ordinal).ToArray();
        // Data in 4 KiB blocks, plus room for the file system's own metadata.
        var kib = files.Sum(f => (new FileInfo(f).Length + 4095) / 4096 * 4) * 105 / 100 + 4096;
        var epoch = ((DateTimeOffset)Container.RootfsBuilder.Epoch).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var fakeTime = new Dictionary<string, string> { ["E2FSPROGS_FAKE_TIME"] = epoch };
        var temp = image + ".tmp";
        await HostCommand.RunAsync(
            mkfs,
            ["-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-N", "32", "-O", "^has_journal", "-L", "nex-runtime", "-U", RuntimeImageUuid,
                "-E", $"root_owner=0:0,hash_seed={RuntimeImageUuid}", "-d", source, temp, $"{kib}K"],
            cancellationToken,
            environment: fakeTime).ConfigureAwait(false);

        // mkfs copies each file's access and change times, which no one can set on the host: set them here.
        var commands = Path.Combine(Path.GetDirectoryName(image)!, ".runtime-times");
        string[] paths = ["/", "/lost+found", .. files.Select(f => "/" + Path.GetFileName(f))];
        await File.WriteAllLinesAsync(commands, paths.SelectMany(p => (string[])[$"sif {p} atime @{epoch}", $"sif {p} ctime @{epoch}"]), cancellationToken).ConfigureAwait(false);
        try
        {
            await HostCommand.RunAsync(debugfs, ["-w", "-f", commands, temp], cancellationToken, environment: fakeTime).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(commands);
        }

        File.Move(temp, image, overwrite: true);
    }

    /// <summary>What a probe boot prints once the initramfs runs.</summary>
    public const string ProbeMarker = "NEX_PROBE_OK";

    /// <summary>What a snapshot template prints once it waits for a clone's seed and metadata on its console.</summary>
    public const string SnapshotMarker = "NEX_SNAPSHOT_READY";

    /// <summary>The kernel command-line word that makes the init wait for a snapshot.</summary>
    public const string SnapshotArgument = "nex.snapshot";

    /// <summary>A small second archive with one VM's metadata, appended to the shared initramfs (the kernel unpacks both).</summary>
    /// <param name="metadataJson">The metadata document.</param>
    /// <returns>The gzipped archive.</returns>
    public static byte[] MetadataArchive(byte[] metadataJson)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            var cpio = new CpioWriter(gzip);
            cpio.File(MetadataPath, metadataJson, 0b110_000_000);
            cpio.Finish();
        }

        return buffer.ToArray();
    }

    private static void AddTree(CpioWriter cpio, string root)
    {
        // Parents before children, in a stable order.
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, entry).Replace('\\', '/');
            if (relative.StartsWith(AgentDirectory + "/", StringComparison.Ordinal) || relative.StartsWith("nex/metadata", StringComparison.Ordinal))
            {
                continue;
            }

            var info = new FileInfo(entry);
            if (info.LinkTarget is { } target)
            {
                cpio.Symlink(relative, target);
            }
            else if (Directory.Exists(entry))
            {
                cpio.Directory(relative, relative == "tmp" ? 0b1_111_111_111 : 0b111_101_101);
            }
            else
            {
                var mode = OperatingSystem.IsWindows() ? 0b110_100_100 : (int)File.GetUnixFileMode(entry);
                cpio.File(relative, File.ReadAllBytes(entry), mode);
            }
        }
    }

    private static async Task<byte[]?> ReadModuleAsync(string moduleRoot, string name, CancellationToken cancellationToken)
    {
        var found = Directory.EnumerateFiles(moduleRoot, name + ".ko*", SearchOption.AllDirectories).FirstOrDefault();
        if (found is null)
        {
            return name is "virtio_net" or "virtio_mmio" ? throw new InvalidOperationException($"kernel module {name} not found in {moduleRoot}") : null;
        }

        var bytes = await File.ReadAllBytesAsync(found, cancellationToken).ConfigureAwait(false);
        return found.EndsWith(".xz", StringComparison.Ordinal) ? await DecompressAsync("xz", bytes, cancellationToken).ConfigureAwait(false)
            : found.EndsWith(".zst", StringComparison.Ordinal) ? await DecompressAsync("zstd", bytes, cancellationToken).ConfigureAwait(false)
            : bytes;
    }

    // The bzImage holds the kernel ELF compressed (zstd for 6.12, lz4 for 6.1, sometimes xz or gzip) after
    // its setup code: try each magic until one decompresses to an ELF.
    private static async Task<byte[]> ExtractElfAsync(byte[] image, CancellationToken cancellationToken)
    {
        (byte[] Magic, string Tool)[] formats =
        [
            ([0x28, 0xb5, 0x2f, 0xfd], "zstd"),
            ([0x02, 0x21, 0x4c, 0x18], "lz4"),
            ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz"),
            ([0x1f, 0x8b, 0x08], "gzip"),
        ];
        foreach (var (magic, tool) in formats)
        {
            for (var at = image.AsSpan().IndexOf(magic); at >= 0;)
            {
                var output = await DecompressAsync(tool, image[at..], cancellationToken).ConfigureAwait(false);
                if (output.Length > 4 && output.AsSpan(0, 4).SequenceEqual("\u007fELF"u8))
                {
                    return output;
                }

                var next = image.AsSpan(at + 1).IndexOf(magic);
                at = next < 0 ? -1 : at + 1 + next;
            }
        }

        throw new InvalidOperationException("no compressed ELF kernel found in the vmlinuz image");
    }

    // Decompresses stdin to stdout, ignoring trailing data errors (the payload is followed by other bytes).
    private static async Task<byte[]> DecompressAsync(string tool, byte[] input, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-dc");
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot run {tool}");
        using var output = new MemoryStream();
        var reading = process.StandardOutput.BaseStream.CopyToAsync(output, cancellationToken);
        var draining = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(input, cancellationToken).ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The tool stopped reading at the end of its frame.
        }

        await reading.ConfigureAwait(false);
        await draining.ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return output.ToArray();
    }
}
