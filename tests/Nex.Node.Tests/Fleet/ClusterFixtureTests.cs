using System.Diagnostics;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Client;
using Nex.Nats;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Fleet;

/// <summary>
/// The fleet's ground: a real 3-server NATS cluster (routes, JetStream) and nodes on it. Tests that stop or kill
/// servers start their own cluster; the others share this class's.
/// </summary>
public sealed class ClusterFixtureTests(NatsClusterFixture cluster) : IClassFixture<NatsClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Cluster_Forms_WithAMetaLeader_AndTakesAnR3Bucket_ThroughEachServer()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"cluster start: {cluster.StartTime.TotalMilliseconds:0} ms");
        for (var i = 0; i < NatsClusterFixture.Size; i++)
        {
            await using var connection = await ConnectAsync(cluster.Url(i));
            Assert.Equal(cluster.ServerName(i), connection.ServerInfo!.Name);
            var info = await new NatsJSContext(connection).GetAccountInfoAsync(Ct);
            Assert.NotNull(info);
        }

        await using var any = await ConnectAsync(cluster.Urls);
        var kv = new NatsKVContext(new NatsJSContext(any));
        var bucket = Name("form");
        var store = await kv.CreateStoreAsync(new NatsKVConfig(bucket) { NumberOfReplicas = 3, Storage = NatsKVStorageType.Memory }, Ct);
        await store.PutAsync("k", "v", cancellationToken: Ct);
        Assert.Equal(3, (await new NatsJSContext(any).GetStreamAsync("KV_" + bucket, cancellationToken: Ct)).Info.Config.NumReplicas);
        await kv.DeleteStoreAsync(bucket, Ct);
    }

    [Fact]
    public async Task R3KvBucket_SurvivesStoppingOneServer_AndTheServerCatchesUpWhenBack()
    {
        await using var own = await NatsClusterFixture.StartAsync(Ct);
        var bucket = Name("kv");
        await using (var first = await ConnectAsync(own.Url(0)))
        {
            var store = await new NatsKVContext(new NatsJSContext(first)).CreateStoreAsync(new NatsKVConfig(bucket) { NumberOfReplicas = 3 }, Ct);
            await store.PutAsync("before", "1", cancellationToken: Ct);
        }

        await own.StopServerAsync(0);
        await using (var other = await ConnectAsync(own.Url(1)))
        {
            // The stream's leader may have been server 0: the two left elect another, which takes a moment (even the
            // stream info request that opens the bucket can go unanswered meanwhile).
            var store = await EventuallyAsync(async () => await new NatsKVContext(new NatsJSContext(other)).GetStoreAsync(bucket, Ct), "the bucket after the stop");
            Assert.Equal("1", await EventuallyAsync(async () => (await store.GetEntryAsync<string>("before", cancellationToken: Ct)).Value, "the entry put before the stop"));
            await EventuallyAsync(async () => await store.PutAsync("during", "2", cancellationToken: Ct), "a put while a server is down");
        }

        await own.StartServerAsync(0, Ct);
        await using var back = await ConnectAsync(own.Url(0));
        // Server 0 answers JetStream again, but the bucket's stream may still be catching up on it.
        var again = await EventuallyAsync(async () => await new NatsKVContext(new NatsJSContext(back)).GetStoreAsync(bucket, Ct), "the bucket through the restarted server");
        Assert.Equal("1", await EventuallyAsync(async () => (await again.GetEntryAsync<string>("before", cancellationToken: Ct)).Value, "the entry put before the stop, through the restarted server"));
        Assert.Equal("2", await EventuallyAsync(async () => (await again.GetEntryAsync<string>("during", cancellationToken: Ct)).Value, "the entry put while server 0 was down"));
    }

    [Fact]
    public async Task Dispose_LeavesNoServerProcess_AndNoStore()
    {
        var own = await NatsClusterFixture.StartAsync(Ct);
        var pids = Enumerable.Range(0, NatsClusterFixture.Size).Select(i => own.Server(i)!.ProcessId).ToArray();
        var directory = own.Directory;
        await own.KillServerAsync(2); // a killed server is cleaned up too
        await own.DisposeAsync();
        Assert.All(pids, pid => Assert.False(Nex.Processes.Posix.IsAlive(pid), $"nats-server {pid} outlived the cluster"));
        Assert.False(System.IO.Directory.Exists(directory));
    }

    [Fact]
    public async Task TwoNodes_OnDifferentServers_AnswerPing_ThroughAClientOnTheThird()
    {
        await using var a = await TestNode.StartAsync(cluster.Url(0));
        await using var b = await TestNode.StartAsync(cluster.Url(1));
        await using var connection = await ConnectAsync(cluster.Url(2));
        var client = new NexClient(connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(2) });

        // A node's subscriptions reach the other servers over the routes a moment after it starts.
        Assert.Equal(a.NodeId, (await EventuallyAsync(() => client.PingNodeAsync(a.NodeId, Ct), "node A's PING")).NodeId);
        Assert.Equal(b.NodeId, (await EventuallyAsync(() => client.PingNodeAsync(b.NodeId, Ct), "node B's PING")).NodeId);
        var all = await client.PingAsync(Ct);
        Assert.Contains(all, p => p.NodeId == a.NodeId);
        Assert.Contains(all, p => p.NodeId == b.NodeId);
    }

    [Fact]
    public async Task NativeDeploy_OnANodeOfTheCluster_FetchesAnR3Artifact_AndAnswersThroughAnotherServer()
    {
        await using var node = await TestNode.StartAsync(cluster.Urls, clientTimeout: TimeSpan.FromSeconds(2));
        await using var uploader = await ConnectAsync(cluster.Url(1));
        await using var caller = await ConnectAsync(cluster.Url(2));
        var location = await Artifacts.UploadAsync(uploader, Name("art").ToUpperInvariant(), "echoservice", await File.ReadAllBytesAsync(Examples.EchoService, Ct), replicas: 3);
        var subject = "svc.echo." + Guid.NewGuid().ToString("N")[..8];
        await EventuallyAsync(() => new NexClient(caller).PingNodeAsync(node.NodeId, Ct), "the node's PING");

        var (id, error) = await Wire.DeployAsync(caller, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, issuer: NexKeys.CreateAccount(), location: location, argv: [subject]), timeout: TimeSpan.FromSeconds(15));
        Assert.Null(error);
        Assert.NotNull(id);
        var reply = await EventuallyAsync(
            async () => (await caller.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes("over the routes"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(2) }, cancellationToken: Ct)).Data!,
            "the service's answer");
        Assert.Equal("over the routes", Encoding.UTF8.GetString(reply));
    }

    [Fact]
    public async Task Node_GivenAllThreeServers_StaysUp_AndAnswersThroughAnotherWhenItsServerIsKilled()
    {
        await using var own = await NatsClusterFixture.StartAsync(Ct);
        // Only server 0 up while the node starts, so we know which one it connects to; the list is all three.
        await using var node = await own.WhileOnlyServerRunsAsync(0, () => TestNode.StartAsync(own.Urls), Ct);
        Assert.Equal(own.Urls, node.Node.NatsUrl);
        await using var watcher = await ConnectAsync(own.Url(1));
        var client = new NexClient(watcher, new NexClientOptions { Timeout = TimeSpan.FromSeconds(1) });
        await EventuallyAsync(() => client.PingNodeAsync(node.NodeId, Ct), "the node's PING before the kill");

        var clock = Stopwatch.StartNew();
        await own.KillServerAsync(0);
        var pong = await EventuallyAsync(() => client.PingNodeAsync(node.NodeId, Ct), "the node's PING after its server was killed", TimeSpan.FromSeconds(10));
        TestContext.Current.TestOutputHelper?.WriteLine($"kill -9 of the node's server to its PING via another: {clock.ElapsedMilliseconds} ms");
        Assert.Equal(node.NodeId, pong.NodeId);
        Assert.False(node.Node.Stopped.IsCompleted);
        Assert.Equal(1, (await client.InfoAsync(node.NodeId, Ct)).NatsDisconnects);
    }

    private static string Name(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..16];

    private static async Task<NatsConnection> ConnectAsync(string urls) =>
        await NexConnection.ConnectAsync(new NexConnectionOptions { Server = urls, ConnectionName = "nex-cluster-test" }, Ct);

    private static Task<T> EventuallyAsync<T>(Func<Task<T>> ask, string what, TimeSpan? within = null) =>
        NatsClusterWaits.EventuallyAsync(ask, what, within, Ct);

    private static Task<bool> EventuallyAsync(Func<Task> ask, string what) =>
        NatsClusterWaits.EventuallyAsync(ask, what, cancellationToken: Ct);
}
