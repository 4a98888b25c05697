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
    public void NoCommandLine_CarriesTheAgentsSeed()
    {
        foreach (var snapshot in new[] { null, "", "/state" })
        {
            Assert.All(Args(snapshot), arg => Assert.DoesNotContain("SUSECRET", arg, StringComparison.Ordinal));
        }
    }
}
