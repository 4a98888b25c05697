using Nex.Node.Config;
using Nex.Node.Machines;
using Nex.Node.Machines.Container;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>The container driver's pure parts and its host probes.</summary>
public sealed class ContainerDriverPartsTests
{
    private static readonly MachineSpec Spec = new("dc6abc", "127.0.0.1", 4222, "SUSECRET", new MachineTemplate());

    [Fact]
    public void TheBwrapCommand_IsolatesEverything_AndKeepsTheSeedOffTheCommandLine()
    {
        var args = ContainerMachineDriver.BubblewrapArguments("/images/rootfs", "/tmp/run/dc6abc", Spec, 65534, 65534, "127.0.0.1:4223=/run/nex/nats.sock").ToList();

        foreach (var flag in new[] { "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent", "--clearenv" })
        {
            Assert.Contains(flag, args);
        }

        Assert.Equal("/", args[args.IndexOf("--ro-bind") + 2]);
        Assert.Equal("/images/rootfs", args[args.IndexOf("--ro-bind") + 1]);
        Assert.Equal("ALL", args[args.IndexOf("--cap-drop") + 1]);
        Assert.Equal("3", args[args.IndexOf("--seccomp") + 1]);
        Assert.Equal("/tmp", args[args.IndexOf("--tmpfs") + 1]);
        Assert.Equal("65534", args[args.IndexOf("--uid") + 1]);
        Assert.Equal(ContainerMachineDriver.AgentPath, args[^1]);
        Assert.DoesNotContain(args, a => a.Contains("SUSECRET", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSeccompFilter_Compiles_ToWholeBpfInstructions()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nex-seccomp-{Guid.NewGuid():N}.bpf");
        try
        {
            SeccompFilter.Export(path);
            var length = new FileInfo(path).Length;
            Assert.True(length > 8 * SeccompFilter.Denied.Length, $"{length} bytes");
            Assert.Equal(0, length % 8); // struct sock_filter is 8 bytes
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ACgroup_HoldsTheLimits_AndIsRemovedWithItsMembers()
    {
        Assert.SkipWhen(Nex.Processes.Posix.EffectiveUserId != 0, "cgroups need root here");
        var version = Cgroup.Detect(out var problem);
        Assert.True(version is not null, problem);
        var group = Cgroup.Create(version.Value, "test-" + Guid.NewGuid().ToString("N")[..8], new CgroupLimits(64L * 1024 * 1024, 1, 32));
        var dir = Path.GetDirectoryName(group.ProcsFiles[0])!;
        var memoryFile = version == CgroupVersion.V2 ? "memory.max" : "memory.limit_in_bytes";
        Assert.Equal((64L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(dir, memoryFile)).Trim());
        Assert.True(await group.RemoveAsync(TestContext.Current.CancellationToken));
        Assert.All(group.ProcsFiles, f => Assert.False(Directory.Exists(Path.GetDirectoryName(f))));
    }

    [Fact]
    public void Preflight_NamesTheFix_ForAMissingRootfs()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-rootfs-" + Guid.NewGuid().ToString("N")[..6]);
        var check = SandboxPreflight.Container(missing).Single(c => c.Name == "root filesystem");
        Assert.False(check.Ready);
        Assert.StartsWith("nex rootfs build", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void ContainerRootfs_PrefersAnExistingRootfsDirectory_ElseTheHomeDefault()
    {
        var home = Path.Combine(Path.GetTempPath(), "home");
        Assert.Equal(Path.Combine(home, "sandbox", "rootfs"), SandboxPreflight.ContainerRootfs(new NodeConfig(), home));
        Assert.Equal(Path.GetTempPath(), SandboxPreflight.ContainerRootfs(new NodeConfig { RootFsFilePath = Path.GetTempPath() }, home));
    }
}
