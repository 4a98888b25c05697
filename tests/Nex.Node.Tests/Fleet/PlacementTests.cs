using Nex.Client;
using Nex.Node.Nats;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Fleet;

/// <summary>
/// run and devrun without a node, over real nodes on one nats-server of their own (the suite's shared server
/// has other tests' nodes bidding): the best-scored bid wins, and equal nodes fill evenly.
/// </summary>
public sealed class PlacementTests
{
    private const string Script = "#!/bin/sh\nexec sleep 600\n";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAndDevRun_WithoutANode_PickTheEmptyNode_UntilItHasAsMany()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: Ct);
        await using var busy = await StartNodeAsync(server);
        await using var empty = await StartNodeAsync(server);
        using var dir = new TempDirectory();
        var workflows = Workflows(busy);
        for (var i = 0; i < 3; i++)
        {
            await workflows.DevRunAsync(Spec(dir, $"pinned{i}") with { Node = busy.NodeId }, cancellationToken: Ct);
        }

        // 3 to 0, then 3 to 1, then 3 to 2: the empty node wins each time, by devrun and by run alike.
        var placed = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            placed.Add((await workflows.DevRunAsync(Spec(dir, $"placed{i}"), cancellationToken: Ct)).NodeId);
        }

        var upload = await new ArtifactStore(busy.Connection).UploadFileAsync(Spec(dir, "runplaced").Path, cancellationToken: Ct);
        using (var issuer = NexKeys.CreateAccount())
        using (var xkey = NexKeys.CreateCurve())
        {
            var spec = new DeploySpec { Location = upload.Location, Name = "runplaced", Type = "native", Hash = upload.Sha256 };
            placed.Add((await workflows.RunAsync(node: null, spec, issuer, xkey, Ct)).NodeId);
        }

        Assert.All(placed, id => Assert.Equal(empty.NodeId, id));
        Assert.Equal(3, await RunningAsync(empty));
        Assert.Equal(3, await RunningAsync(busy));
    }

    [Fact]
    public async Task SixDevRuns_OverThreeEqualNodes_LandTwoOnEach()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: Ct);
        await using var a = await StartNodeAsync(server);
        await using var b = await StartNodeAsync(server);
        await using var c = await StartNodeAsync(server);
        using var dir = new TempDirectory();
        var workflows = Workflows(a);

        var placed = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            placed.Add((await workflows.DevRunAsync(Spec(dir, $"spread{i}"), cancellationToken: Ct)).NodeId);
        }

        // Each deploy is running before the next auction, so the score sees it: no node gets a third while one has one.
        var counts = new[] { a, b, c }.Select(n => placed.Count(id => id == n.NodeId)).ToList();
        Assert.True(counts.All(n => n == 2), string.Join("/", counts));
    }

    private static Task<TestNode> StartNodeAsync(NatsServerProcess server) =>
        TestNode.StartAsync(server.ClientUrl, clientTimeout: TimeSpan.FromSeconds(30));

    // Auctions with the CLI's defaults (2 s at most, 300 ms after the last bid); deploys with the node's 30 s client.
    private static WorkloadWorkflows Workflows(TestNode node) => new(new NexClient(node.Connection), node.Client);

    private static async Task<int> RunningAsync(TestNode node) => (await node.Client.InfoAsync(node.NodeId, Ct)).Machines.Count;

    private static DevRunSpec Spec(TempDirectory dir, string name)
    {
        var path = dir.File(name);
        if (!File.Exists(path))
        {
            File.WriteAllText(path, Script);
        }

        return new DevRunSpec { Path = path, Type = "native", KeysHome = dir.File("keys"), StopPrevious = false };
    }
}
