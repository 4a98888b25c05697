using System.Text;
using NATS.Client.Core;
using Nex.Node.Config;
using Nex.Node.Tests.Functions;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>
/// <c>sandbox: "container"</c> end to end: real bubblewrap sandboxes on the rootfs that <c>nex rootfs build</c>
/// makes, with cgroup limits and seccomp, driven through the node's control API.
/// </summary>
public sealed class ContainerSandboxTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<TestNode> ContainerNodeAsync(string url, int memoryMib = 256)
    {
        Assert.SkipWhen(SandboxImages.NotRoot is not null, SandboxImages.NotRoot ?? "");
        var rootfs = await SandboxImages.RootfsAsync(Ct);
        return await TestNode.StartAsync(url, c => c with
        {
            Sandbox = "container",
            RootFsFilePath = rootfs,
            WorkloadTypes = ["native", "v8", "wasm", "oci"],
            MachineTemplate = new MachineTemplate { MemSizeMib = memoryMib, VcpuCount = 1 },
        });
    }

    [Fact]
    public async Task TheExampleEchoService_ADynamicBinary_DeploysAndAnswersThroughTheRelayedNats()
    {
        await using var node = await ContainerNodeAsync(nats.Url);
        var subject = FunctionTests.Unique("svc");
        var location = await Artifacts.UploadFileAsync(node.Connection, "C" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "echoservice", Examples.EchoService);
        var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: location, argv: [subject]));
        Assert.True(error is null, error);

        string? answer = null;
        for (var attempt = 0; attempt < 50 && answer is null; attempt++)
        {
            try
            {
                var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, "ping"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromMilliseconds(500) }, cancellationToken: Ct);
                answer = Encoding.UTF8.GetString(reply.Data ?? []);
            }
            catch (NatsNoRespondersException)
            {
                await Task.Delay(100, Ct); // the service is still connecting
            }
            catch (NatsNoReplyException)
            {
            }
        }

        Assert.Equal("ping", answer);

        // INFO reports the sandbox's cgroup memory against the template's limit.
        var resources = Assert.IsType<MachineResources>(Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines).Resources);
        Assert.Equal(256L * 1024 * 1024, resources.MemoryLimitBytes);
        Assert.InRange(resources.MemoryBytes, 1024 * 1024, 256L * 1024 * 1024);
        Assert.True(resources.Processes >= 2, $"processes {resources.Processes}");
    }

    [Fact]
    public async Task JavaScriptAndWasmFunctions_RunInsideTheSandbox()
    {
        await using var node = await ContainerNodeAsync(nats.Url);
        var js = FunctionTests.Unique("js");
        await FunctionTests.DeployFunctionAsync(node, "v8", "(subject, payload) => ({ subject, n: payload.length })"u8.ToArray(), "jsfn", js);
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(js, "abc"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        Assert.Equal($"{{\"subject\":\"{js}\",\"n\":3}}", Encoding.UTF8.GetString(reply.Data ?? []));

        var wasm = FunctionTests.Unique("wasm");
        await FunctionTests.DeployFunctionAsync(node, "wasm", await File.ReadAllBytesAsync(Examples.WasmEcho, Ct), "wasmfn", wasm);
        reply = await node.Connection.RequestAsync<byte[], byte[]>(wasm, "hello"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        Assert.StartsWith("hello", Encoding.UTF8.GetString(reply.Data ?? []), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWorkload_SeesItsOwnPidNamespace_NoHostProcess_AReadOnlyRoot_NoPrivileges_AndOnlyLoopback()
    {
        await using var node = await ContainerNodeAsync(nats.Url);
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");
        var script = Artifacts.Script(
            "echo \"probe pid=$$ procs=$(ls -d /proc/[0-9]* | wc -l) comms=$(cat /proc/[0-9]*/comm | sort -u | tr '\\n' ,)" +
            " root=$(touch /usr/probe 2>/dev/null && echo writable || echo readonly) tmp=$(echo x > /tmp/probe && echo writable)" +
            " uid=$(id -u) $(grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status | tr -d ' \\t' | tr '\\n' ' ')" +
            "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,) end\"\nexec sleep 60");
        var location = await Artifacts.UploadAsync(node.Connection, "P" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "probe", script);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "probe", location: location));
        Assert.True(error is null, error);

        var line = (await logs.WaitAsync((s, b) => s.EndsWith("." + id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.StartsWith("probe ", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the probe line"))
            .Body.GetProperty("text").GetString()!;
        var facts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => p.Contains('=', StringComparison.Ordinal) || p.Contains(':', StringComparison.Ordinal))
            .Select(p => p.Split(p.Contains('=', StringComparison.Ordinal) ? '=' : ':', 2)).ToDictionary(p => p[0], p => p[1]);

        Assert.True(int.Parse(facts["pid"], System.Globalization.CultureInfo.InvariantCulture) < 50, line); // a fresh pid namespace
        Assert.True(int.Parse(facts["procs"], System.Globalization.CultureInfo.InvariantCulture) < 10, line); // the agent and its workload only
        Assert.DoesNotContain("dotnet", facts["comms"], StringComparison.Ordinal);
        Assert.DoesNotContain("nats-server", facts["comms"], StringComparison.Ordinal);
        Assert.Contains("nex-agent", facts["comms"], StringComparison.Ordinal);
        Assert.Equal("readonly", facts["root"]);
        Assert.Equal("writable", facts["tmp"]);
        Assert.NotEqual("0", facts["uid"]);
        Assert.Equal("1", facts["NoNewPrivs"]);
        Assert.Equal("2", facts["Seccomp"]); // filter mode
        Assert.Equal("0000000000000000", facts["CapEff"]);
        Assert.Equal("lo,", facts["ifaces"]);
    }

    [Fact]
    public async Task AnOciImageTarball_DeploysAsAService_AndAnswers()
    {
        await using var node = await ContainerNodeAsync(nats.Url);
        var rootfs = await SandboxImages.RootfsAsync(Ct);
        var subject = FunctionTests.Unique("oci");

        // A small "distroless" image: glibc, OpenSSL and the NATS C client libraries, busybox, and the
        // echo service, whose entrypoint answers on the subject the image's Cmd names.
        var image = OciLayouts.Image(
            [
                [.. OciLayouts.Tree(Path.Combine(rootfs, "lib"), "lib"), .. OciLayouts.Tree(Path.Combine(rootfs, "lib64"), "lib64"),
                 .. OciLayouts.Tree(Path.Combine(rootfs, "usr", "lib"), "usr/lib"),
                 new("etc/"), new("etc/ld.so.cache", await File.ReadAllBytesAsync(Path.Combine(rootfs, "etc", "ld.so.cache"), Ct)),
                 new("bin/"), new("bin/busybox", await File.ReadAllBytesAsync(Path.Combine(rootfs, "bin", "busybox"), Ct)), new("bin/sh", LinkTarget: "busybox")],
                [new("app/"), new("app/echoservice", await File.ReadAllBytesAsync(Examples.EchoService, Ct))],
            ],
            entrypoint: ["/app/echoservice"],
            cmd: [subject],
            env: ["PATH=/bin"],
            workingDir: "/app");
        var location = await Artifacts.UploadAsync(node.Connection, "O" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "image", image);
        var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "ociecho", type: "oci", location: location));
        Assert.True(error is null, error);

        string? answer = null;
        for (var attempt = 0; attempt < 50 && answer is null; attempt++)
        {
            try
            {
                var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, "from oci"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromMilliseconds(500) }, cancellationToken: Ct);
                answer = Encoding.UTF8.GetString(reply.Data ?? []);
            }
            catch (NatsNoRespondersException)
            {
                await Task.Delay(100, Ct);
            }
            catch (NatsNoReplyException)
            {
            }
        }

        Assert.Equal("from oci", answer);
    }

    [Fact]
    public async Task AnOciDeploy_OnANodeWithoutTheContainerSandbox_IsRefusedWithAReason()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "oci"] });
        var location = await Artifacts.UploadAsync(node.Connection, "O" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "image", OciLayouts.Image([[new("x", [1])]], ["/x"], [], []));
        var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "oci", type: "oci", location: location));
        Assert.Equal("Failed to deploy workload: oci workloads need the container sandbox (\"sandbox\": \"container\")", error);
    }

    [Fact]
    public async Task AWorkloadOverItsMemoryLimit_IsKilled_AndReportedUndeployed()
    {
        await using var node = await ContainerNodeAsync(nats.Url, memoryMib: 96);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");

        // The shell keeps 400 MB of text in a variable: far over the sandbox's 96 MiB.
        var script = Artifacts.Script("x=$(head -c 400000000 /dev/zero | tr '\\0' a)\necho survived ${#x}");
        var location = await Artifacts.UploadAsync(node.Connection, "M" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "hog", script);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "hog", location: location));
        Assert.True(error is null, error);

        var undeployed = await events.WaitAsync(
            (s, b) => s.EndsWith(".workload_undeployed", StringComparison.Ordinal) && b.GetRawText().Contains("hog", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30),
            "workload_undeployed for the hog");
        Assert.Contains("status: 137", undeployed.Body.GetRawText(), StringComparison.Ordinal); // SIGKILL by the OOM killer
    }
}
