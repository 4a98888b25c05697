using System.Diagnostics;
using NATS.Client.Core;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>
/// Issue 15 #10 end to end, as root with the container sandbox: Nex's home under a 0700 directory (as
/// <c>/root</c> is), which the sandbox user (65534) cannot enter.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SandboxImageReachabilityTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HomeUnderA0700Directory_TheNodeRefusesImagesThere_DefaultsToTheSystemDirectory_AndReportsAgentsThatCannotStart()
    {
        Assert.SkipWhen(SandboxImages.NotRoot is not null, SandboxImages.NotRoot ?? "");
        var built = await SandboxImages.RootfsAsync(Ct); // skips nothing: throws when bwrap is unusable here
        using var tmp = new TempDirectory("nex-home0700-");
        File.SetUnixFileMode(tmp.Path, (UnixFileMode)0b111_101_101);
        var locked = Directory.CreateDirectory(tmp.File("private")).FullName;
        File.SetUnixFileMode(locked, (UnixFileMode)0b111_000_000);
        var home = Path.Combine(locked, "home");
        var homeImages = Path.Combine(home, "sandbox");
        var systemImages = Path.Combine(tmp.Path, "var-lib-nex", "sandbox"); // stands in for /var/lib/nex/sandbox
        await LinkCopyAsync(built, Path.Combine(homeImages, "rootfs"));
        await LinkCopyAsync(built, Path.Combine(systemImages, "rootfs"));
        NexNodeOptions Options(NexNodeOptions o) => o with { HomeDirectory = home, HomeDirectoryExplicit = true, SystemImageDirectory = systemImages };

        // 1. Images configured under the 0700 directory: the node refuses to start, in one line naming the
        //    path and the fix (before: it started, and every agent died on bwrap's "Permission denied").
        var refused = await Assert.ThrowsAsync<NodeStartException>(() => TestNode.StartAsync(nats.Url, c => c with { Sandbox = "container", DefaultResourceDir = homeImages }, Options));
        Assert.DoesNotContain('\n', refused.Message);
        Assert.Contains($"cannot reach {homeImages}/rootfs/nex/agent/nex-agent", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"{locked} (mode 0700) is not searchable", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod o+x {locked}", refused.Message, StringComparison.Ordinal);

        // 2. No path configured: as root the default is the system directory, which the sandbox user reaches.
        await using (var node = await TestNode.StartAsync(nats.Url, c => c with { Sandbox = "container" }, Options))
        {
            await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");
            var location = await Artifacts.UploadAsync(node.Connection, "R" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "hello", Artifacts.Script("echo reached-$(id -u)\nexec sleep 60"));
            var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "hello", location: location));
            Assert.True(error is null, error);
            await logs.WaitAsync((s, b) => s.EndsWith("." + id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.Trim() == "reached-65534", TimeSpan.FromSeconds(15), "the workload's line");
        }

        // 3. Agents that cannot start for a reason preflight does not see (their libc unreadable by the
        //    sandbox user): an agent_start_failed event, the cause in INFO, deploys failing at once, naming it.
        var libc = new[] { "lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6" }
            .Select(p => Path.Combine(systemImages, "rootfs", p)).First(p => File.Exists(p) && new FileInfo(p).LinkTarget is null);
        var bytes = await File.ReadAllBytesAsync(libc, Ct);
        File.Delete(libc); // a hard link to the built tree: replace it, do not chmod the original
        await File.WriteAllBytesAsync(libc, bytes, Ct);
        File.SetUnixFileMode(libc, (UnixFileMode)0b110_000_000);

        await using var watcher = new NatsConnection(new NatsOpts { Url = nats.Url });
        await using var events = await Recorder.StartAsync(watcher, NexSubjects.Event(NexSubjects.SystemNamespace, EventTypes.AgentStartFailed));
        await using (var node = await TestNode.StartAsync(nats.Url, c => c with { Sandbox = "container" }, Options))
        {
            var failed = await events.WaitAsync((_, b) => b.GetProperty("source").GetString() == node.NodeId, TimeSpan.FromSeconds(30), "agent_start_failed");
            var reason = failed.Body.GetProperty("data").GetProperty("reason").GetString()!;
            Assert.Contains("libc.so.6", reason, StringComparison.Ordinal);

            var info = await node.Client.InfoAsync(node.NodeId, Ct);
            Assert.Contains("libc.so.6", info.AgentStartFailure, StringComparison.Ordinal);

            var clock = Stopwatch.StartNew();
            var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey));
            Assert.StartsWith("Failed to get agent client from pool: no agent could be started: ", error, StringComparison.Ordinal);
            Assert.Contains("libc.so.6", error, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the deploy took {clock.Elapsed}");
        }
    }

    private static async Task LinkCopyAsync(string source, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        using var cp = Process.Start(new ProcessStartInfo("cp", ["-al", source, target]) { UseShellExecute = false })!;
        await cp.WaitForExitAsync(Ct);
        Assert.Equal(0, cp.ExitCode);
    }
}
