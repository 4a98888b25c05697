using System.Text;
using Nex.Node.Machines.Container;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>Unpacking OCI image layouts: layers in order, whiteouts, and nothing outside the root.</summary>
public sealed class OciImageTests : IDisposable
{
    private readonly TempDirectory _dir = new("nex-oci-test-");

    public void Dispose() => _dir.Dispose();

    private static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Prune_RemovesImagesNobodyHoldsOrUsed_AndKeepsTheRest()
    {
        var cache = Path.Combine(_dir.Path, "cache");
        var old = DateTime.UtcNow - TimeSpan.FromDays(2);
        string Image(string name)
        {
            var root = Path.Combine(cache, name, "rootfs");
            Directory.CreateDirectory(root);
            File.WriteAllText(Path.Combine(root, "file"), name);
            return root;
        }

        void Age(string name)
        {
            File.WriteAllBytes(Path.Combine(cache, name, "last-used"), []);
            File.SetLastWriteTimeUtc(Path.Combine(cache, name, "last-used"), old);
        }

        Image("unused");
        Age("unused");
        using var held = OciImageCache.Hold(Image("running"), "m1");
        Age("running");
        Image("orphaned");
        var holders = Path.Combine(cache, "orphaned", "holders");
        Directory.CreateDirectory(holders);
        File.WriteAllBytes(Path.Combine(holders, $"{DeadPid()}.m2"), []); // its node died
        Age("orphaned");
        Image("recent");
        var staging = Path.Combine(cache, ".abc-123");
        Directory.CreateDirectory(staging);
        Directory.SetLastWriteTimeUtc(staging, old);

        var removed = OciImageCache.Prune(cache, TimeSpan.FromHours(24), DateTimeOffset.UtcNow);

        Assert.Equal(["orphaned", "unused"], removed.Order());
        Assert.False(Directory.Exists(staging), "a staging tree a crash left behind");
        Assert.True(File.Exists(Path.Combine(cache, "running", "rootfs", "file")));
        Assert.True(File.Exists(Path.Combine(cache, "recent", "rootfs", "file")));
        Assert.Equal(["recent", "running"], Directory.EnumerateDirectories(cache).Select(Path.GetFileName).Order());

        // Let go: the image's clock starts again, so it stays for another day.
        held.Dispose();
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(cache, "running", "holders")));
        Assert.Empty(OciImageCache.Prune(cache, TimeSpan.FromHours(24), DateTimeOffset.UtcNow));
        Assert.Equal(["running"], OciImageCache.Prune(cache, TimeSpan.FromHours(24), DateTimeOffset.UtcNow + TimeSpan.FromDays(2)).Where(n => n == "running"));
    }

    private static int DeadPid()
    {
        for (var pid = 4_000_000; ; pid--)
        {
            if (!Nex.Processes.Posix.IsAlive(pid))
            {
                return pid;
            }
        }
    }

    [Fact]
    public void Layers_ApplyInOrder_WithWhiteoutsAndOpaqueDirectories_AndTheConfigIsRead()
    {
        var image = OciLayouts.Image(
            [
                [new("etc/"), new("etc/keep", Text("1")), new("etc/gone", Text("x")), new("data/"), new("data/old", Text("o")), new("bin/"), new("bin/tool", Text("v1"))],
                [new("etc/.wh.gone", []), new("data/.wh..wh..opq", []), new("data/new", Text("n")), new("bin/tool", Text("v2")), new("bin/link", LinkTarget: "tool")],
            ],
            entrypoint: ["/bin/tool"],
            cmd: ["--flag"],
            env: ["PATH=/bin", "A=b"],
            workingDir: "/data");

        var root = Path.Combine(_dir.Path, "rootfs");
        var config = OciImage.Unpack(image, root);

        Assert.Equal("1", File.ReadAllText(Path.Combine(root, "etc", "keep")));
        Assert.False(File.Exists(Path.Combine(root, "etc", "gone")));
        Assert.False(File.Exists(Path.Combine(root, "data", "old")));
        Assert.Equal("n", File.ReadAllText(Path.Combine(root, "data", "new")));
        Assert.Equal("v2", File.ReadAllText(Path.Combine(root, "bin", "tool")));
        Assert.Equal("tool", new FileInfo(Path.Combine(root, "bin", "link")).LinkTarget);
        Assert.True(Directory.Exists(Path.Combine(root, "run", "nex"))); // mount points for the sandbox
        Assert.Equal(["/bin/tool"], config.Entrypoint);
        Assert.Equal(["--flag"], config.Cmd);
        Assert.Equal(["PATH=/bin", "A=b"], config.Env);
        Assert.Equal("/data", config.WorkingDir);
    }

    [Fact]
    public void NoEntry_LandsOutsideTheRoot_ThroughDotDot_OrAnImageSymlink()
    {
        var outside = Path.Combine(_dir.Path, "outside");
        Directory.CreateDirectory(outside);
        var image = OciLayouts.Image(
            [
                [new("../escaped", Text("no")), new("evil", LinkTarget: outside), new("abs", LinkTarget: "/etc")],
                [new("evil/planted", Text("no")), new("abs/passwd", Text("inside"))],
            ],
            entrypoint: ["/x"],
            cmd: [],
            env: []);

        var root = Path.Combine(_dir.Path, "rootfs");
        OciImage.Unpack(image, root);

        Assert.False(File.Exists(Path.Combine(_dir.Path, "escaped")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        // A symlink to /etc means the image's own /etc.
        Assert.Equal("inside", File.ReadAllText(Path.Combine(root, "etc", "passwd")));
    }

    [Fact]
    public void NotAnImageLayout_IsRefusedWithAReason()
    {
        var error = Assert.Throws<InvalidDataException>(() => OciImage.Unpack(Text("not a tar at all, just text that is long enough to look like something"), Path.Combine(_dir.Path, "r")));
        Assert.False(string.IsNullOrEmpty(error.Message));
    }
}
