using Nex.Node.Config;
using Nex.Node.Machines;
using Nex.Node.Machines.Container;
using Nex.Node.Machines.MicroVm;
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

        // The agent connects through its socket; NEX_RELAYS carries only what the services need.
        Assert.Equal("/run/nex/nats.sock", args[args.IndexOf("NEX_NODE_NATS_SOCKET") + 1]);
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
        var check = ContainerPreflight.Checks(missing).Single(c => c.Name == "root filesystem");
        Assert.False(check.Ready);
        Assert.StartsWith("nex rootfs build", check.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void ContainerRootfs_PrefersAnExistingRootfsDirectory_ElseTheDefaultImageDirectory()
    {
        var images = Path.Combine(Path.GetTempPath(), "home", "sandbox");
        Assert.Equal(Path.Combine(images, "rootfs"), SandboxPreflight.ContainerRootfs(new NodeConfig(), images));
        Assert.Equal(Path.GetTempPath(), SandboxPreflight.ContainerRootfs(new NodeConfig { RootFsFilePath = Path.GetTempPath() }, images));
        Assert.Equal("/srv/nex/rootfs", SandboxPreflight.ContainerRootfs(new NodeConfig { DefaultResourceDir = "/srv/nex" }, images));
    }

    [Theory]
    [InlineData(false, false, false, "/home/u/.nex/sandbox")] // not root: the sandbox runs as us, home is fine
    [InlineData(false, true, false, "/home/u/.nex/sandbox")]
    [InlineData(true, false, true, "/sys-images")] // root, ~/.nex by default (/root is 0700): the system directory
    [InlineData(true, true, false, "/sys-images")] // root, NEX_HOME set but the sandbox user cannot reach it
    [InlineData(true, true, true, "/home/u/.nex/sandbox")] // root, NEX_HOME set and reachable: kept
    public void DefaultImageDirectory_AsRoot_IsWhereTheSandboxUserCanReachIt(bool root, bool homeExplicit, bool reachable, string expected)
    {
        string? asked = null;
        var chosen = SandboxPreflight.DefaultImageDirectory("/home/u/.nex", homeExplicit, root, dir => { asked = dir; return reachable; }, "/sys-images");
        Assert.Equal(expected, chosen);
        Assert.True(asked is null or "/home/u/.nex/sandbox", asked);
        Assert.Equal("/var/lib/nex/sandbox", SandboxPreflight.SystemImageDirectory);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Unreachable_AsTheSandboxUser_NamesTheDirectoryThatStopsIt()
    {
        Assert.SkipWhen(Nex.Processes.Posix.EffectiveUserId != 0, "asking as another user needs root");
        using var dir = new Nex.Testing.TempDirectory("nex-reach-"); // 0700, as /root is
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        var inner = Directory.CreateDirectory(Path.Combine(dir.Path, "private", "images")).FullName;
        var file = Path.Combine(inner, "vmlinux");
        File.WriteAllText(file, "x");
        File.SetUnixFileMode(file, (UnixFileMode)0b110_100_100);
        File.SetUnixFileMode(Path.Combine(dir.Path, "private"), (UnixFileMode)0b111_000_000);

        Assert.Equal(Path.Combine(dir.Path, "private"), SandboxPreflight.Unreachable(file, 65534, 65534, executable: false));
        var check = MicroVmPreflight.Checks(inner, probeKvm: false, sandboxUser: (65534, 65534)).Single(c => c.Name == "vmlinux");
        Assert.False(check.Ready);
        Assert.Contains("cannot reach " + file, check.Detail, StringComparison.Ordinal);
        Assert.Contains("mode 0700", check.Detail, StringComparison.Ordinal);
        Assert.Contains("chmod o+x " + Path.Combine(dir.Path, "private"), check.Fix, StringComparison.Ordinal);

        File.SetUnixFileMode(Path.Combine(dir.Path, "private"), (UnixFileMode)0b111_101_101);
        Assert.Null(SandboxPreflight.Unreachable(file, 65534, 65534, executable: false));
        File.SetUnixFileMode(file, (UnixFileMode)0b110_000_000);
        Assert.Equal(file, SandboxPreflight.Unreachable(file, 65534, 65534, executable: false));
        Assert.True(MicroVmPreflight.Checks(inner, probeKvm: false).Single(c => c.Name == "vmlinux").Ready); // no user: not checked
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void MakeReadable_OpensATreeToEveryone_KeepingExecutablesExecutable()
    {
        using var dir = new Nex.Testing.TempDirectory("nex-modes-");
        var sub = Directory.CreateDirectory(Path.Combine(dir.Path, "rootfs", "lib")).FullName;
        var lib = Path.Combine(sub, "libc.so.6");
        var tool = Path.Combine(sub, "tool");
        File.WriteAllText(lib, "x");
        File.WriteAllText(tool, "x");
        File.SetUnixFileMode(lib, (UnixFileMode)0b110_000_000);
        File.SetUnixFileMode(tool, (UnixFileMode)0b111_000_000);
        File.SetUnixFileMode(sub, (UnixFileMode)0b111_000_000);
        File.CreateSymbolicLink(Path.Combine(sub, "link"), "/etc/passwd");

        RootfsBuilder.MakeReadable(Path.Combine(dir.Path, "rootfs"));

        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(sub));
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(lib));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(tool));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(dir.Path, "rootfs")));
    }
}
