using System.Text;
using NATS.Client.Core;
using Nex.Node.Config;
using Nex.Node.Tests.Functions;
using Nex.Processes;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>
/// <c>sandbox: "microvm"</c> end to end: real QEMU microVMs (TCG on this machine kind: a few seconds and
/// CPU-seconds per boot, so one node at a time and generous timeouts).
/// </summary>
// Alone: each boot costs seconds of CPU under TCG, which would starve timing-sensitive tests beside it.
[Collection(nameof(RunsAlone))]
public sealed class MicroVmSandboxTests(NatsServerFixture nats, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<TestNode> VmNodeAsync(string url, int pool, Func<NodeConfig, NodeConfig>? more = null)
    {
        Assert.SkipWhen(SandboxImages.NotRoot is not null, SandboxImages.NotRoot ?? "");
        var images = await SandboxImages.MicroVmAsync(Ct);
        return await TestNode.StartAsync(
            url,
            c => c with
            {
                Sandbox = "microvm",
                KernelFilePath = Path.Combine(images, "vmlinux"),
                MachinePoolSize = pool,
                MachineTemplate = new MachineTemplate { MemSizeMib = 256, VcpuCount = 1 },
            } is var config && more is not null ? more(config) : config,
            clientTimeout: TimeSpan.FromSeconds(5));
    }

    // QEMU processes this test process started (their parent is us: setpriv execs QEMU in place).
    private static int[] OurVms() =>
        [.. Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0).Where(pid => pid > 0 && IsOurQemu(pid))];

    private static bool IsOurQemu(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return stat.Contains("(qemu-system-x86", StringComparison.Ordinal) && int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == Environment.ProcessId;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<string> DeployEchoAsync(TestNode node, string subject, TimeSpan? timeout = null)
    {
        var location = await Artifacts.UploadFileAsync(node.Connection, "V" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "echoservice", Examples.EchoService);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: location, argv: [subject]), timeout: timeout);
        Assert.True(error is null, error);
        return id!;
    }

    private static async Task<string?> AskAsync(TestNode node, string subject, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, "ping"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(1) }, cancellationToken: Ct);
                return Encoding.UTF8.GetString(reply.Data ?? []);
            }
            catch (NatsNoRespondersException)
            {
                await Task.Delay(200, Ct);
            }
            catch (NatsNoReplyException)
            {
            }
        }

        return null;
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(250, Ct);
        }
    }

    // kv set then get from inside the function: the host service crosses the VM's relay both ways.
    private static readonly byte[] KvFunction = """
        async (subject, payload) => {
          await hostServices.kv.set('vmkey', payload);
          const back = await hostServices.kv.get('vmkey');
          return { subject, n: payload.length, kv: String.fromCharCode(...back) };
        }
        """u8.ToArray();

    private static Task<TestNode> FunctionVmNodeAsync(string url, int pool, bool snapshots = true) =>
        VmNodeAsync(url, pool, c => c with { WorkloadTypes = ["native", "v8", "wasm"], MicroVmSnapshots = snapshots, FunctionTimeoutMs = 30_000 });

    private async Task<string> TriggerAsync(TestNode node, string subject, string payload)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(40) }, cancellationToken: Ct);
        output.WriteLine($"{subject}: {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms");
        return Encoding.UTF8.GetString(reply.Data ?? []);
    }

    private static long RssKib(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

    private static int VmOf(string workloadId) => OurVms().Single(pid => CommandLine(pid)?.Contains($"/{workloadId}/", StringComparison.Ordinal) == true);

    [Fact]
    public async Task V8AndWasmFunctions_AnswerFromRestoredClones_AndTheV8OneUsesTheKvHostService()
    {
        await using var node = await FunctionVmNodeAsync(nats.Url, pool: 2);
        await WaitForAsync(() => OurVms().Length >= 2, TimeSpan.FromSeconds(90), "a warm pool of 2 VMs");
        var warm = OurVms();
        output.WriteLine($"warm clones: {string.Join(", ", warm.Select(pid => $"{RssKib(pid) / 1024} MiB"))} RSS");

        var js = FunctionTests.Unique("vmjs");
        var jsId = await FunctionTests.DeployFunctionAsync(node, "v8", KvFunction, "vmjs", js);
        Assert.Contains("-incoming", CommandLine(VmOf(jsId)), StringComparison.Ordinal); // a restored clone
        Assert.Equal($"{{\"subject\":\"{js}\",\"n\":5,\"kv\":\"hello\"}}", await TriggerAsync(node, js, "hello"));
        Assert.Equal($"{{\"subject\":\"{js}\",\"n\":3,\"kv\":\"abc\"}}", await TriggerAsync(node, js, "abc"));
        output.WriteLine($"V8 clone after two calls: {RssKib(VmOf(jsId)) / 1024} MiB RSS");

        var wasm = FunctionTests.Unique("vmwasm");
        var wasmId = await FunctionTests.DeployFunctionAsync(node, "wasm", await File.ReadAllBytesAsync(Examples.WasmEcho, Ct), "vmwasm", wasm);
        Assert.Contains("-incoming", CommandLine(VmOf(wasmId)), StringComparison.Ordinal);
        Assert.StartsWith("hello", await TriggerAsync(node, wasm, "hello"), StringComparison.Ordinal);
        output.WriteLine($"WASM clone after one call: {RssKib(VmOf(wasmId)) / 1024} MiB RSS");
    }

    [Fact]
    public async Task AV8Function_AnswersFromABootedVm_TooWithoutSnapshots()
    {
        await using var node = await FunctionVmNodeAsync(nats.Url, pool: 1, snapshots: false);
        var js = FunctionTests.Unique("vmjs");
        var id = await FunctionTests.DeployFunctionAsync(node, "v8", KvFunction, "vmjsboot", js);
        Assert.DoesNotContain("-incoming", CommandLine(VmOf(id)), StringComparison.Ordinal);
        Assert.Equal($"{{\"subject\":\"{js}\",\"n\":2,\"kv\":\"hi\"}}", await TriggerAsync(node, js, "hi"));
        output.WriteLine($"V8 booted VM after one call: {RssKib(VmOf(id)) / 1024} MiB RSS");
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task ARuntimeImageReplacedUnderARunningNode_MakesNewVmsBoot_NotRestoreOntoTheOtherImage()
    {
        Assert.SkipWhen(SandboxImages.NotRoot is not null, SandboxImages.NotRoot ?? "");
        var built = await SandboxImages.MicroVmAsync(Ct);
        using var images = new TempDirectory("nex-vmimages-");
        File.SetUnixFileMode(images.Path, (UnixFileMode)0b111_101_101); // the sandbox user reads it
        foreach (var name in new[] { "vmlinux", "initramfs.cpio.gz", "runtime.img" })
        {
            File.Copy(Path.Combine(built, name), images.File(name));
            File.SetUnixFileMode(images.File(name), (UnixFileMode)0b110_100_100);
        }

        await using var node = await TestNode.StartAsync(
            nats.Url,
            c => c with { Sandbox = "microvm", KernelFilePath = images.File("vmlinux"), MachinePoolSize = 1, WorkloadTypes = ["native", "v8", "wasm"], MachineTemplate = new MachineTemplate { MemSizeMib = 256, VcpuCount = 1 } },
            clientTimeout: TimeSpan.FromSeconds(5));
        await WaitForAsync(() => OurVms().Any(pid => CommandLine(pid)?.Contains("-incoming", StringComparison.Ordinal) == true), TimeSpan.FromSeconds(90), "a restored warm VM");

        // What nex rootfs build does: a new file renamed over the old one.
        File.Copy(Path.Combine(built, "runtime.img"), images.File("runtime.img.new"));
        File.SetUnixFileMode(images.File("runtime.img.new"), (UnixFileMode)0b110_100_100);
        File.SetLastWriteTimeUtc(images.File("runtime.img.new"), DateTime.UtcNow.AddMinutes(1));
        File.Move(images.File("runtime.img.new"), images.File("runtime.img"), overwrite: true);

        // The warm clone serves this deploy; the VM that replaces it in the pool boots.
        var js = FunctionTests.Unique("vmjs");
        await FunctionTests.DeployFunctionAsync(node, "v8", KvFunction, "vmjsnew", js);
        Assert.Equal($"{{\"subject\":\"{js}\",\"n\":2,\"kv\":\"hi\"}}", await TriggerAsync(node, js, "hi"));
        await WaitForAsync(() => OurVms().Any(pid => CommandLine(pid) is { } line && !line.Contains("-incoming", StringComparison.Ordinal)), TimeSpan.FromSeconds(60), "a booted VM after the image was replaced");
    }

    [Fact]
    public async Task AFunctionDeploy_IntoVmsTooSmallForIt_IsRefusedInOneLine_AndTheNodeBidsOnlyForNative()
    {
        await using var node = await VmNodeAsync(nats.Url, pool: 1, c => c with { WorkloadTypes = ["native", "v8", "wasm"], MachineTemplate = new MachineTemplate { MemSizeMib = 128, VcpuCount = 1 } });
        var location = await Artifacts.UploadAsync(node.Connection, "S" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "small", "() => 1"u8.ToArray());
        var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "small", type: "v8", location: location, triggers: [FunctionTests.Unique("small")]));
        Assert.Equal("Unsupported workload type on this node: v8 and wasm need machine_template.memsize_mib >= 256 under the microvm sandbox (this node has 128)", error);

        // What it bids for in auctions; other sandboxes and larger VMs run functions.
        var small = new NodeConfig { Sandbox = "microvm", WorkloadTypes = ["native", "v8", "wasm"], MachineTemplate = new MachineTemplate { MemSizeMib = 128 } };
        Assert.Equal(["native"], small.RunnableWorkloadTypes);
        Assert.Equal(["native", "v8", "wasm"], (small with { MachineTemplate = new MachineTemplate { MemSizeMib = 256 } }).RunnableWorkloadTypes);
        Assert.Equal(["native", "v8", "wasm"], (small with { Sandbox = "container" }).RunnableWorkloadTypes);
    }

    [Fact]
    public async Task AWorkload_FindsNoSeed_TheAgentDeletedItsMetadataFile()
    {
        await using var node = await VmNodeAsync(nats.Url, pool: 1);
        var facts = await AgentCredentialTests.RunProbeAsync(node);
        Assert.Equal("", facts["hits"]);
        Assert.DoesNotContain("/nex/metadata.json", facts["readable"], StringComparison.Ordinal);
        Assert.Equal("0", facts["nexenv"]);
    }

    [Fact]
    public async Task AProbeBoot_ReachesTheGuestsInit_UnderTcg()
    {
        Assert.SkipWhen(SandboxImages.NotRoot is not null, SandboxImages.NotRoot ?? "");
        var images = await SandboxImages.MicroVmAsync(Ct);
        var qemu = ChildProcessLauncher.FindOnPath("qemu-system-x86_64")!;
        Assert.True(await Nex.Node.Machines.MicroVm.MicroVmMachineDriver.ProbeBootAsync(qemu, images, "tcg", TimeSpan.FromSeconds(60), Ct));
    }

    [Fact]
    public async Task TheEchoService_DeploysIntoAMicroVm_AndAnswers_AndTheNodeSaysWhichAccelerator()
    {
        await using var node = await VmNodeAsync(nats.Url, pool: 1);
        var tags = node.Node.Tags;
        Assert.Equal("microvm", tags["nex.sandbox"]);
        Assert.Contains(tags["nex.microvm.accel"], new[] { "kvm", "tcg" });

        var subject = FunctionTests.Unique("vm");
        await DeployEchoAsync(node, subject);
        Assert.Equal("ping", await AskAsync(node, subject, TimeSpan.FromSeconds(30)));

        // INFO reports the VM's QEMU process against the template's memory.
        var resources = Assert.IsType<Nex.Protocol.MachineResources>(Assert.Single((await node.Client.InfoAsync(node.NodeId, TestContext.Current.CancellationToken)).Machines).Resources);
        Assert.Equal(256L * 1024 * 1024, resources.MemoryLimitBytes);
        Assert.True(resources.MemoryBytes > 32L * 1024 * 1024, $"memory {resources.MemoryBytes}");
        Assert.True(resources.CpuSeconds > 0, $"cpu {resources.CpuSeconds}");
    }

    [Fact]
    public async Task VmsRestoredFromOneSnapshot_DoNotShareTheKernelsRandomStream()
    {
        // A VM of the previous test may still be exiting (CI once counted one, booted, as this node's): only
        // VMs that start from here on are this node's.
        var earlier = OurVms();
        int[] Ours() => [.. OurVms().Except(earlier)];
        await using var node = await VmNodeAsync(nats.Url, pool: 2);
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");
        await WaitForAsync(() => Ours().Length >= 2, TimeSpan.FromSeconds(90), "a warm pool of 2 VMs");
        Assert.All(Ours(), pid => Assert.Contains("-incoming", File.ReadAllText($"/proc/{pid}/cmdline"), StringComparison.Ordinal));

        // Each clone prints 16 bytes of the kernel's random stream. Without a reseed after the restore,
        // clones draw the same bytes in the same order (the agent's own draws included).
        var script = Artifacts.Script("echo \"random=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n')\"; exec sleep 300");
        var bucket = "V" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        var draws = new List<string>();
        foreach (var name in new[] { "first", "second" })
        {
            var location = await Artifacts.UploadAsync(node.Connection, bucket, name, script);
            var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: name, location: location));
            Assert.True(error is null, error);
            var line = await logs.WaitAsync((s, b) => s.EndsWith("." + id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.Contains("random=", StringComparison.Ordinal), TimeSpan.FromSeconds(60), $"{name}'s random line");
            var text = line.Body.GetProperty("text").GetString()!;
            draws.Add(text[(text.IndexOf("random=", StringComparison.Ordinal) + 7)..].Trim());
        }

        Assert.All(draws, d => Assert.Matches("^[0-9a-f]{32}$", d));
        Assert.NotEqual(draws[0], draws[1]);
    }

    [Fact]
    public async Task ADamagedSnapshot_MakesThePoolBootInstead_AndDeploysStillAnswer()
    {
        await using var node = await VmNodeAsync(nats.Url, pool: 1);
        await WaitForAsync(() => OurVms().Any(pid => CommandLine(pid)?.Contains("-incoming", StringComparison.Ordinal) == true), TimeSpan.FromSeconds(90), "a restored warm VM");
        var state = Assert.Single(
            Directory.EnumerateDirectories(Path.GetTempPath(), $"nex-sandbox-{Environment.ProcessId}-*")
                .Select(dir => Path.Combine(dir, "snapshot-256-1", "state")),
            File.Exists);
        // Replaced, not truncated: a restore already reading the old file finishes; every later one fails at once.
        File.WriteAllBytes(state + ".damaged", []);
        File.Move(state + ".damaged", state, overwrite: true);

        // The warm VM seen above may not have opened the state yet (QEMU starts its `cat` a moment after
        // it starts): then it fails too, and this deploy waits for three failed restores (10 s each)
        // and a boot, about 36 s, which the node allows (61 s under TCG).
        var first = FunctionTests.Unique("vm");
        await DeployEchoAsync(node, first, TimeSpan.FromSeconds(90));
        Assert.Equal("ping", await AskAsync(node, first, TimeSpan.FromSeconds(30)));

        // Three failed restores in a row, then the pool boots its VMs.
        await WaitForAsync(() => OurVms().Any(pid => CommandLine(pid) is { } line && !line.Contains("-incoming", StringComparison.Ordinal)), TimeSpan.FromSeconds(90), "a booted VM after the failed restores");
        var second = FunctionTests.Unique("vm");
        await DeployEchoAsync(node, second);
        Assert.Equal("ping", await AskAsync(node, second, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task AWarmPoolOfTwo_RefillsAfterADeploy_AndAKilledQemuIsReportedUndeployed()
    {
        await using var node = await VmNodeAsync(nats.Url, pool: 2);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        await WaitForAsync(() => OurVms().Length >= 2, TimeSpan.FromSeconds(90), "a warm pool of 2 VMs");

        var subject = FunctionTests.Unique("vm");
        var id = await DeployEchoAsync(node, subject);
        Assert.Equal("ping", await AskAsync(node, subject, TimeSpan.FromSeconds(30)));

        // One VM serves the workload; the pool boots another so that two are warm again.
        await WaitForAsync(() => OurVms().Length >= 3, TimeSpan.FromSeconds(90), "the pool to refill to 2 warm VMs beside the deployed one");

        var workloadVm = OurVms().Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").Contains($"/{id}/", StringComparison.Ordinal));
        Posix.Signal(workloadVm, Posix.SIGKILL);
        var undeployed = await events.WaitAsync(
            (s, b) => s.EndsWith(".workload_undeployed", StringComparison.Ordinal) && b.GetRawText().Contains(id, StringComparison.Ordinal),
            TimeSpan.FromSeconds(30),
            "workload_undeployed after the VM was killed");
        Assert.Contains("Agent exited unexpectedly", undeployed.Body.GetRawText(), StringComparison.Ordinal);
    }

    // A VM may end between the listing and the read (a failed restore is killed): null, as if it were not there.
    private static string? CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return null;
        }
    }
}
