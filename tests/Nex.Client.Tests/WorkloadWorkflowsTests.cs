using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

/// <summary>
/// <see cref="WorkloadWorkflows"/> against a real node: the branches the CLI tests do not reach (a previous
/// workload that cannot be stopped, the upload hook, a name that is ambiguous on one node). The tests share one
/// node (each its own workload name): a node per test only added load beside the suite's timing-sensitive tests.
/// </summary>
public sealed class WorkloadWorkflowsTests(WorkloadWorkflowsTests.NodeFixture fixture) : IClassFixture<WorkloadWorkflowsTests.NodeFixture>
{
    private const string Script = "#!/bin/sh\nexec sleep 600\n";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DevRun_UploadsThroughTheHook_AndStopsThePreviousWorkloadOfThatName()
    {
        var node = fixture.Node;
        using var dir = new TempDirectory();
        var spec = Spec(dir, "hooked", node.NodeId, "keys");
        var workflows = new WorkloadWorkflows(node.Client);
        var uploads = 0;
        ArtifactUploader counting = (store, path, maxBytes, ct) =>
        {
            uploads++;
            return store.UploadFileAsync(path, maxBytes, progress: null, ct);
        };

        var first = await workflows.DevRunAsync(spec, counting, Ct);
        var second = await workflows.DevRunAsync(spec, counting, Ct);

        Assert.Equal(2, uploads);
        Assert.Equal(node.NodeId, second.NodeId);
        Assert.Empty(first.Stopped);
        Assert.Equal([first.Response.Id], second.Stopped);
        Assert.Null(second.StopFailure);
        var machine = Assert.Single(await MachinesAsync(node, "hooked"));
        Assert.Equal(second.Response.Id, machine.Id);
        Assert.Equal(WorkloadWorkflows.DevModeDescription, machine.Workload.Description);
        Assert.True(File.Exists(DevKeys.IssuerPath(dir.File("keys"))), "the developer keys are created in KeysHome");
    }

    [Fact]
    public async Task DevRun_PreviousWorkloadOfAnotherIssuer_RunsBesideTheNewOne_AndIsReported()
    {
        var node = fixture.Node;
        using var dir = new TempDirectory();
        var workflows = new WorkloadWorkflows(node.Client);
        var theirs = await workflows.DevRunAsync(Spec(dir, "shared", node.NodeId, "alice"), cancellationToken: Ct);

        var mine = await workflows.DevRunAsync(Spec(dir, "shared", node.NodeId, "bob"), cancellationToken: Ct);

        Assert.Empty(mine.Stopped);
        Assert.NotNull(mine.StopFailure);
        Assert.Contains($"previous workload 'shared' ({theirs.Response.Id})", mine.StopFailure, StringComparison.Ordinal);
        Assert.Equal(2, (await MachinesAsync(node, "shared")).Count);
    }

    [Fact]
    public async Task Stop_OnANode_AnAmbiguousNameIsRefused_AnIdStopsOne()
    {
        var node = fixture.Node;
        using var dir = new TempDirectory();
        var workflows = new WorkloadWorkflows(node.Client);
        var spec = Spec(dir, "twice", node.NodeId, "keys") with { StopPrevious = false };
        var first = await workflows.DevRunAsync(spec, cancellationToken: Ct);
        var second = await workflows.DevRunAsync(spec, cancellationToken: Ct);
        using var issuer = DevKeys.LoadOrCreateIssuer(dir.File("keys"));

        var ambiguous = await Assert.ThrowsAsync<NexClientException>(() => workflows.StopAsync(node.NodeId, "TWICE", name: null, issuer, Ct));
        Assert.StartsWith($"'TWICE' matches 2 workloads on node {node.NodeId}: ", ambiguous.Message, StringComparison.Ordinal);
        Assert.EndsWith("; stop one by id", ambiguous.Message, StringComparison.Ordinal);

        var stopped = await workflows.StopAsync(node.NodeId, second.Response.Id, name: null, issuer, Ct);
        Assert.True(stopped.Response.Stopped);
        Assert.Equal(node.NodeId, stopped.NodeId);
        Assert.Equal("twice", stopped.WorkloadName);
        Assert.Equal(first.Response.Id, Assert.Single(await MachinesAsync(node, "twice")).Id);
    }

    [Fact]
    public async Task StopAll_ByName_StopsWhatItMay_AndReportsTheRestOneLineEach()
    {
        var node = fixture.Node;
        using var dir = new TempDirectory();
        var workflows = new WorkloadWorkflows(node.Client);
        var theirs = await workflows.DevRunAsync(Spec(dir, "partly", node.NodeId, "alice"), cancellationToken: Ct);
        var mine = await workflows.DevRunAsync(Spec(dir, "partly", node.NodeId, "bob") with { StopPrevious = false }, cancellationToken: Ct);
        using var bob = DevKeys.LoadOrCreateIssuer(dir.File("bob"));

        var result = await workflows.StopAllAsync("partly", name: null, bob, Ct);

        Assert.Equal(mine.Response.Id, Assert.Single(result.Stopped).Response.Id);
        var failure = Assert.Single(result.Failures);
        Assert.StartsWith($"cannot stop workload 'partly' ({theirs.Response.Id}) on node {node.NodeId}: Invalid stop request: ", failure, StringComparison.Ordinal);
        Assert.Equal(theirs.Response.Id, Assert.Single(await MachinesAsync(node, "partly")).Id);

        // Only one left: its refusal is the error, as a stop by id.
        using var alice = DevKeys.LoadOrCreateIssuer(dir.File("alice"));
        Assert.Single((await workflows.StopAllAsync("partly", name: null, alice, Ct)).Stopped);
        var quick = new WorkloadWorkflows(new NexClient(node.Connection, node.Client.Options with { Timeout = TimeSpan.FromSeconds(1) }));
        var none = await Assert.ThrowsAsync<NexClientException>(() => quick.StopAllAsync("partly", name: null, alice, Ct));
        Assert.Equal("no workload 'partly' found in namespace 'default'", none.Message);
    }

    [Theory]
    [InlineData(1, "N1", null)]
    [InlineData(100, null, null)]
    [InlineData(0, null, "--replicas must be between 1 and 100 (got 0)")]
    [InlineData(101, null, "--replicas must be between 1 and 100 (got 101)")]
    [InlineData(2, "N1", "--replicas needs an auction; drop --node")]
    public void ReplicasProblem_OneLine(int replicas, string? node, string? expected) =>
        Assert.Equal(expected, WorkloadWorkflows.ReplicasProblem(replicas, node));

    private static async Task<List<Nex.Protocol.MachineSummary>> MachinesAsync(TestNode node, string name) =>
        [.. (await node.Client.InfoAsync(node.NodeId, Ct)).Machines.Where(m => m.Workload.Name == name)];

    /// <summary>One node for the class.</summary>
    public sealed class NodeFixture(NatsServerFixture nats) : IAsyncLifetime
    {
        private TestNode? _node;

        public TestNode Node => _node ?? throw new InvalidOperationException("the node has not started");

        public async ValueTask InitializeAsync() => _node = await TestNode.StartAsync(nats.Url, clientTimeout: TimeSpan.FromSeconds(30));

        public async ValueTask DisposeAsync()
        {
            if (_node is not null)
            {
                await _node.DisposeAsync();
            }
        }
    }

    // Each test its own file name, so concurrent tests do not replace each other's object in NEXCLIFILES.
    private static DevRunSpec Spec(TempDirectory dir, string name, string nodeId, string keys)
    {
        var path = dir.File(name);
        if (!File.Exists(path))
        {
            File.WriteAllText(path, Script);
        }

        return new DevRunSpec { Path = path, Type = NexClient.WorkloadTypeForFile(path), Node = nodeId, KeysHome = dir.File(keys) };
    }
}
