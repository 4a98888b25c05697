using Nex.Node.Config;
using Nex.Node.Machines;
using Nex.Node.Machines.MicroVm;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>The microVM driver's QEMU command lines: booted, snapshot template, and restored clone.</summary>
public sealed class MicroVmDriverPartsTests
{
    private static readonly MachineSpec Spec = new("dc6vm1", "127.0.0.1", 4222, "SUSECRET", new MachineTemplate { MemSizeMib = 512, VcpuCount = 2 });

    private static List<string> Args(string? snapshot) =>
        [.. MicroVmMachineDriver.QemuArguments(Spec, "/run/nex/dc6vm1", "tcg", "/images", "/usr/bin/socat", workloadNats: true, snapshot)];

    private static string Append(List<string> args) => args[args.IndexOf("-append") + 1];

    [Fact]
    public void ABootedVm_GetsItsOwnInitrd_TheTemplatesSize_AndOnlyTheRelayForwards()
    {
        var args = Args(null);
        Assert.Equal("/run/nex/dc6vm1/initrd", args[args.IndexOf("-initrd") + 1]);
        Assert.Equal("512", args[args.IndexOf("-m") + 1]);
        Assert.Equal("2", args[args.IndexOf("-smp") + 1]);
        Assert.DoesNotContain(VmImageBuilder.SnapshotArgument, Append(args), StringComparison.Ordinal);
        Assert.DoesNotContain("-incoming", args);
        var netdev = args[args.IndexOf("-netdev") + 1];
        Assert.StartsWith("user,id=n0,restrict=on,", netdev, StringComparison.Ordinal);
        Assert.Contains("guestfwd=tcp:10.0.2.100:4222-cmd:/usr/bin/socat - UNIX-CONNECT:/run/nex/dc6vm1/nats.sock", netdev, StringComparison.Ordinal);
        Assert.Contains("guestfwd=tcp:10.0.2.100:4223-cmd:/usr/bin/socat - UNIX-CONNECT:/run/nex/dc6vm1/workload-nats.sock", netdev, StringComparison.Ordinal);
    }

    [Fact]
    public void ATemplate_WaitsForASnapshot_AndIsControlledOverQmp_AndAClone_IsRestoredFromItsState()
    {
        var template = Args("");
        Assert.Equal("/images/initramfs.cpio.gz", template[template.IndexOf("-initrd") + 1]);
        Assert.EndsWith(" " + VmImageBuilder.SnapshotArgument, Append(template), StringComparison.Ordinal);
        Assert.Equal("unix:/run/nex/dc6vm1/qmp.sock,server=on,wait=off", template[template.IndexOf("-qmp") + 1]);
        Assert.DoesNotContain("-incoming", template);

        // A clone must be the template's machine exactly (same initramfs, command line and devices), plus the state.
        var clone = Args("/run/nex/snapshot-512-2/state");
        Assert.Equal("exec:cat /run/nex/snapshot-512-2/state", clone[clone.IndexOf("-incoming") + 1]);
        Assert.Equal(Append(template), Append(clone));
        Assert.Equal("/images/initramfs.cpio.gz", clone[clone.IndexOf("-initrd") + 1]);
        Assert.Equal("unix:/run/nex/dc6vm1/qmp.sock,server=on,wait=off", clone[clone.IndexOf("-qmp") + 1]);
    }

    [Fact]
    public void EveryVm_GetsTheRuntimeImage_ReadOnly_OnTheVirtioMmioBus_TheTemplateAndItsClonesAlike()
    {
        foreach (var snapshot in new[] { null, "", "/run/nex/snapshot-512-2/state" })
        {
            var args = Args(snapshot);
            Assert.Equal("file=/images/runtime.img,if=none,id=rt,format=raw,readonly=on", args[args.IndexOf("-drive") + 1]);
            Assert.Single(args, a => a == "-drive");
            Assert.Contains("virtio-blk-device,drive=rt", args);
        }

        // A restore needs the template's devices in the template's order.
        static IEnumerable<string> Devices(List<string> args) => args.Where((a, i) => i > 0 && args[i - 1] == "-device");
        Assert.Equal(Devices(Args("")), Devices(Args("/state")));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Preflight_WantsTheRuntimeImage_ReadableByTheSandboxUser()
    {
        using var dir = new Nex.Testing.TempDirectory("nex-vmimages-");
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        foreach (var name in new[] { VmImageBuilder.KernelName, VmImageBuilder.InitramfsName })
        {
            File.WriteAllText(Path.Combine(dir.Path, name), "x");
            File.SetUnixFileMode(Path.Combine(dir.Path, name), (UnixFileMode)0b110_100_100);
        }

        var missing = MicroVmPreflight.Checks(dir.Path, probeKvm: false).Single(c => c.Name == VmImageBuilder.RuntimeImageName);
        Assert.False(missing.Ready);
        Assert.Equal($"{Path.Combine(dir.Path, "runtime.img")} is missing", missing.Detail);
        Assert.StartsWith("nex rootfs build", missing.Fix, StringComparison.Ordinal);

        var image = Path.Combine(dir.Path, VmImageBuilder.RuntimeImageName);
        File.WriteAllText(image, "x");
        File.SetUnixFileMode(image, (UnixFileMode)0b110_000_000);
        Assert.True(MicroVmPreflight.Checks(dir.Path, probeKvm: false).Single(c => c.Name == VmImageBuilder.RuntimeImageName).Ready);
        if (Nex.Processes.Posix.EffectiveUserId == 0)
        {
            var blocked = MicroVmPreflight.Checks(dir.Path, probeKvm: false, sandboxUser: (65534, 65534)).Single(c => c.Name == VmImageBuilder.RuntimeImageName);
            Assert.False(blocked.Ready);
            Assert.Contains("cannot reach " + image, blocked.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TheRuntimeImage_IsExt4_HoldsTheAgentsFiles_AndTheSameFilesGiveTheSameBytes()
    {
        Assert.SkipWhen(VmImageBuilder.SystemTool("mkfs.ext4") is null || VmImageBuilder.SystemTool("debugfs") is null, "needs mkfs.ext4 and debugfs (apt-get install e2fsprogs)");
        using var dir = new Nex.Testing.TempDirectory("nex-runtime-");
        var source = Directory.CreateDirectory(Path.Combine(dir.Path, "agent")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "nex-agent"), "agent", TestContext.Current.CancellationToken);
        await File.WriteAllBytesAsync(Path.Combine(source, "libwasmtime.so"), new byte[100_000], TestContext.Current.CancellationToken);
        var first = Path.Combine(dir.Path, "first.img");
        var second = Path.Combine(dir.Path, "second.img");
        await VmImageBuilder.BuildRuntimeImageAsync(source, first, TestContext.Current.CancellationToken);
        File.SetLastAccessTimeUtc(Path.Combine(source, "nex-agent"), DateTime.UtcNow.AddDays(-3)); // the host's times do not leak in
        await VmImageBuilder.BuildRuntimeImageAsync(source, second, TestContext.Current.CancellationToken);

        var bytes = await File.ReadAllBytesAsync(first, TestContext.Current.CancellationToken);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(second, TestContext.Current.CancellationToken));
        Assert.Equal(0xEF53, BitConverter.ToUInt16(bytes, 1024 + 0x38)); // the ext2/3/4 superblock magic
        var listing = await Nex.Node.Machines.HostCommand.RunAsync(VmImageBuilder.SystemTool("debugfs")!, ["-R", "ls -l /", first], TestContext.Current.CancellationToken);
        Assert.Contains("nex-agent", listing, StringComparison.Ordinal);
        Assert.Contains("libwasmtime.so", listing, StringComparison.Ordinal);
        Assert.False(File.Exists(first + ".tmp"));
    }

    [Fact]
    public void NoCommandLine_CarriesTheAgentsSeed()
    {
        foreach (var snapshot in new[] { null, "", "/state" })
        {
            Assert.All(Args(snapshot), arg => Assert.DoesNotContain("SUSECRET", arg, StringComparison.Ordinal));
        }
    }
}
