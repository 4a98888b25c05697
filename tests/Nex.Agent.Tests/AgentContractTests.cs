using System.Text;
using System.Text.Json;
using Nex.Agent.Providers;
using Nex.Processes;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>The test plays the node against the real agent process, on a real nats-server.</summary>
public sealed class AgentContractTests
{
    private const string HelloScript = "#!/bin/sh\necho hello $GREETING\necho oops >&2\nexit 3\n";

    // Ignores SIGTERM (and so does its child, which inherits the disposition): only SIGKILL ends them.
    internal const string StubbornScript = "#!/bin/sh\ntrap '' TERM\nsleep 600 &\necho \"pids $$ $!\"\nwait\n";

    internal static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    internal static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ShortWorkload_FullLifecycle_AsTheNodeSeesIt()
    {
        await using var node = await FakeNode.StartAsync(Token);
        await using var unanswered = await node.Connection.SubscribeCoreAsync<byte[]>(AgentSubjects.Handshake(node.AgentId), cancellationToken: Token);
        await node.Connection.PingAsync(Token);
        await using var agent = AgentProcess.Start(node.AgentEnvironment());

        // The node answers late: the agent has asked once and got no answer; it keeps asking until it does.
        await unanswered.Msgs.ReadAsync(Token).AsTask().WaitAsync(Wait, Token);
        await node.AnswerHandshakesAsync(Token);
        var handshake = await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
        Assert.Equal(node.AgentId, handshake.Id);
        Assert.Equal("Metadata obtained from no-sandbox environment", handshake.Message);
        Assert.InRange(handshake.StartTime, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Contains("Starting Nex Agent - ", agent.Output, StringComparison.Ordinal);

        Assert.Equal("OK", await node.PingAsync(Token));

        // Rejections leave the agent ready for a good deploy.
        var garbage = await node.DeployAsync("{not json", Token);
        Assert.False(garbage.Accepted);
        Assert.StartsWith("Failed to unmarshal deploy request: ", garbage.Message, StringComparison.Ordinal);

        var empty = await node.DeployAsync("{}", Token);
        Assert.False(empty.Accepted);
        Assert.Equal("namespace is required\nworkload name is required\nhash is required\ntotal bytes is required\nworkload type is required", empty.Message);

        var badFunction = await node.DeployAsync(FakeNode.NativeRequest("f") with { WorkloadType = WorkloadTypes.V8, Essential = true }, Token);
        Assert.Equal("essential flag is not supported for workload type\nat least one trigger subject is required for this workload type", badFunction.Message);

        var noArtifact = await node.DeployAsync(FakeNode.NativeRequest("hello"), Token);
        Assert.False(noArtifact.Accepted);
        Assert.StartsWith("Failed to get and write workload artifact to temp dir: ", noArtifact.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(node.ArtifactPath));

        node.OfferArtifact(HelloScript);

        var v8 = await node.DeployAsync(FakeNode.NativeRequest("f") with { WorkloadType = WorkloadTypes.V8, TriggerSubjects = ["t.>"] }, Token);
        Assert.False(v8.Accepted);
        Assert.StartsWith("Failed to validate workload: ", v8.Message, StringComparison.Ordinal); // a shell script is no JavaScript

        var oci = await node.DeployAsync(FakeNode.NativeRequest("o") with { WorkloadType = WorkloadTypes.Oci }, Token);
        Assert.Equal("Failed to initialize workload execution provider; oci workloads run only in the container sandbox, whose root is the image", oci.Message);
        Assert.False(File.Exists(node.ArtifactPath));

        var deployed = await node.DeployAsync(FakeNode.NativeRequest("hello", new Dictionary<string, string> { ["greeting"] = "hi" }), Token);
        Assert.True(deployed.Accepted, deployed.Message);
        Assert.Equal("Workload deployed", deployed.Message);

        var exited = await node.Published.WaitForAsync(p => p.IsEvent(EventTypes.WorkloadUndeployed), Wait, "workload_undeployed event");
        var all = node.Published.Snapshot();
        var exitIndex = IndexOf(all, exited);

        var deployedEvent = all.Single(p => p.IsEvent(EventTypes.WorkloadDeployed));
        Assert.True(IndexOf(all, deployedEvent) < exitIndex);
        var deployedCloudEvent = deployedEvent.Event;
        Assert.Equal("1.0", deployedCloudEvent.SpecVersion);
        Assert.Equal(node.AgentId, deployedCloudEvent.Source);
        Assert.Equal(EventTypes.WorkloadDeployed, deployedCloudEvent.Type);
        Assert.Equal(new WorkloadDeployedEvent { WorkloadName = "hello", Code = 0 }, deployedCloudEvent.GetData(NexJson.Context.WorkloadDeployedEvent));

        var exitEvent = exited.Event;
        Assert.Equal(node.AgentId, exitEvent.Source);
        Assert.InRange(exitEvent.Time - deployedCloudEvent.Time, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        var exitData = exitEvent.GetData(NexJson.Context.WorkloadUndeployedEvent)!;
        Assert.Equal("hello", exitData.WorkloadName);
        Assert.Equal(3, exitData.Code);
        Assert.Equal($"Exited workload: hello; vm: {node.AgentId}; status: 3", exitData.Message);

        // All of the output arrived before the exit was reported.
        var beforeExit = all.Take(exitIndex).Where(p => p.IsLog).Select(p => p.Log).ToList();
        var stdout = string.Concat(beforeExit.Where(l => l.Source == "hello" && l.Level == 4).Select(l => l.Text));
        var stderr = string.Concat(beforeExit.Where(l => l.Source == "hello" && l.Level == 2).Select(l => l.Text));
        Assert.Equal("hello hi\n", stdout);
        Assert.Equal("oops\n", stderr);
        Assert.Contains(beforeExit, l => l is { Source: "nex-agent", Level: 4, Text: "Workload hello deployed" });
        var exitLog = await node.Published.WaitForAsync(p => p.IsLog && p.Log.Text == "Workload hello exited", Wait, "exit log");
        Assert.Equal(2, exitLog.Log.Level);
        Assert.Equal("nex-agent", exitLog.Log.Source);

        var again = await node.DeployAsync(FakeNode.NativeRequest("hello"), Token);
        Assert.False(again.Accepted);
        Assert.Equal("workload already deployed", again.Message);

        Assert.Empty(await node.UndeployAsync(Token));
        Assert.False(File.Exists(node.ArtifactPath));

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task Undeploy_KillsTheWholeTree_BeforeReplying_AndReportsNoEvent()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact(StubbornScript);
        await node.AnswerHandshakesAsync(Token);
        await using var agent = AgentProcess.Start(node.AgentEnvironment(stopGraceMs: 300));
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

        // Undeploy before any deploy: an empty reply.
        Assert.Empty(await node.UndeployAsync(Token));

        var deployed = await node.DeployAsync(FakeNode.NativeRequest("stubborn", new Dictionary<string, string> { ["path"] = "/usr/bin:/bin" }), Token);
        Assert.True(deployed.Accepted, deployed.Message);
        var (shell, sleeper) = await ReadPidsAsync(node);
        Assert.True(ProcessGroupProbe.IsRunning(shell));
        Assert.True(ProcessGroupProbe.IsRunning(sleeper));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(node.ArtifactPath));

        Assert.Empty(await node.UndeployAsync(Token));
        Assert.False(ProcessGroupProbe.IsRunning(shell), "the workload survived undeploy");
        Assert.False(ProcessGroupProbe.IsRunning(sleeper), "the workload's child survived undeploy");
        Assert.False(File.Exists(node.ArtifactPath));

        // Idempotent, and the agent stays responsive.
        Assert.Empty(await node.UndeployAsync(Token));
        Assert.Equal("OK", await node.PingAsync(Token));

        // An event the undeploys caused was published before their replies, so the server passed it on before a
        // marker sent now; once the recorder has the marker, it would have the event too.
        await node.Connection.PublishAsync(AgentSubjects.Logs(node.AgentId), "marker"u8.ToArray(), cancellationToken: Token);
        await node.Published.WaitForAsync(p => p.IsLog && p.Data.AsSpan().SequenceEqual("marker"u8), Wait, "the marker");
        Assert.DoesNotContain(node.Published.Snapshot(), p => p.IsEvent(EventTypes.WorkloadUndeployed));

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
    }

    [Fact]
    public async Task Sigterm_StopsTheWorkload_WithoutAnEvent_AndExitsZero_MetadataFromAFile()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact(StubbornScript);
        await node.AnswerHandshakesAsync(Token);
        var metadata = Path.Combine(node.ArtifactDirectory, "metadata.json");
        await File.WriteAllTextAsync(
            metadata,
            $$"""{"vmid":"{{node.AgentId}}","node_nats_host":"127.0.0.1","node_nats_port":{{node.Server.Port}},"node_nats_nkey":"{{node.Seed}}","message":"Host-supplied metadata"}""",
            Token);
        await using var agent = AgentProcess.Start(new Dictionary<string, string?>
        {
            ["NEX_METADATA_FILE"] = metadata,
            ["NEX_AGENT_STOP_GRACE_MS"] = "300",
            ["TMPDIR"] = node.ArtifactDirectory,
        });
        var handshake = await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
        Assert.Equal("Host-supplied metadata", handshake.Message);

        var deployed = await node.DeployAsync(FakeNode.NativeRequest("stubborn", new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" }), Token);
        Assert.True(deployed.Accepted, deployed.Message);
        var (shell, sleeper) = await ReadPidsAsync(node);

        agent.Signal(Posix.SIGTERM);
        Assert.Equal(0, await agent.WaitForExitAsync(Wait));
        Assert.False(ProcessGroupProbe.IsRunning(shell));
        Assert.False(ProcessGroupProbe.IsRunning(sleeper));
        Assert.False(File.Exists(node.ArtifactPath));
        Assert.DoesNotContain(node.Published.Snapshot(), p => p.IsEvent(EventTypes.WorkloadUndeployed));
    }

    [Fact]
    public async Task SeedOnStdin_ReadOnce_TheAgentConnectsWithIt()
    {
        await using var node = await FakeNode.StartAsync(Token);
        await node.AnswerHandshakesAsync(Token);
        var environment = node.AgentEnvironment();
        environment["NEX_NODE_NATS_NKEY_SEED"] = null;
        environment["NEX_NODE_NATS_NKEY_SEED_FROM"] = "stdin";
        await using var agent = AgentProcess.Start(environment);
        await agent.WriteStandardInputAndCloseAsync(node.Seed + "\n");
        await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
        Assert.False(string.IsNullOrEmpty(await node.PingAsync(Token)));
    }

    [Theory]
    [InlineData(null, "NEX_WORKLOADID is required")]
    [InlineData("not a port", "NEX_NODE_NATS_PORT 'not a port' is not a valid port (1-65535)")]
    public async Task BadSettings_OneLineOnStderr_ExitOne(string? port, string expected)
    {
        var environment = new Dictionary<string, string?>
        {
            ["NEX_SANDBOX"] = "false",
            ["NEX_WORKLOADID"] = port is null ? null : Xid.NewId(),
            ["NEX_NODE_NATS_HOST"] = "127.0.0.1",
            ["NEX_NODE_NATS_PORT"] = port ?? "4222",
        };
        await using var agent = AgentProcess.Start(environment);
        Assert.Equal(1, await agent.WaitForExitAsync(Wait));
        var lines = agent.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith($"nex-agent: {expected}", lines[0], StringComparison.Ordinal);
    }

    internal static async Task<(int Shell, int Sleeper)> ReadPidsAsync(FakeNode node)
    {
        var line = await node.Published.WaitForAsync(p => p.IsLog && p.Log.Text?.StartsWith("pids ", StringComparison.Ordinal) == true, Wait, "pid line");
        var parts = line.Log.Text!.Trim().Split(' ');
        return (int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static int IndexOf(IReadOnlyList<Published> all, Published item)
    {
        for (var i = 0; i < all.Count; i++)
        {
            if (ReferenceEquals(all[i], item))
            {
                return i;
            }
        }

        return -1;
    }
}
