using System.Diagnostics;
using NATS.Client.Core;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

/// <summary><see cref="NexClient.ReadTopSnapshotAsync"/> against a real node and stand-ins that answer PING but not INFO.</summary>
public sealed class NexClientTopTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // A node id of the right shape (56 characters, N…), unique to the test.
    private static string FakeNodeId() => ("NFAKE" + Guid.NewGuid().ToString("N").ToUpperInvariant() + new string('A', 56))[..56];

    /// <summary>Answers PING as <paramref name="nodeId"/>; with <paramref name="silentInfo"/> also takes INFO requests and never answers them.</summary>
    private static async Task<IAsyncDisposable> FakeNodeAsync(NatsConnection connection, string nodeId, bool silentInfo)
    {
        var ping = await connection.SubscribeCoreAsync<byte[]>(NexSubjects.Ping, cancellationToken: Ct);
        var info = silentInfo ? await connection.SubscribeCoreAsync<byte[]>(NexSubjects.InfoPattern(nodeId), cancellationToken: Ct) : null;
        var reply = NexEnvelope.Success(ResponseTypes.Ping, new PingResponse { NodeId = nodeId, Version = "0.2.7", Uptime = "5s", Tags = new Dictionary<string, string> { [NexTags.NodeName] = "fake-" + nodeId[5..11] } }, NexJson.Context.PingResponse);
        var loop = Task.Run(async () =>
        {
            await foreach (var msg in ping.Msgs.ReadAllAsync())
            {
                await msg.ReplyAsync(reply);
            }
        });
        await connection.PingAsync(Ct);
        return new Stopper(ping, info, loop);
    }

    private sealed class Stopper(INatsSub<byte[]> ping, INatsSub<byte[]>? info, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await ping.UnsubscribeAsync();
            await loop;
            await ping.DisposeAsync();
            if (info is not null)
            {
                await info.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ReadTopSnapshot_KeepsNodesThatDoNotAnswerInfo_WithWhy_AndDoesNotWaitForThem()
    {
        // A server of its own: the stand-ins would answer other tests' PINGs on the shared one.
        await using var server = await Nex.Node.Nats.NatsServerProcess.StartAsync(new Nex.Node.Nats.NatsServerOptions(), cancellationToken: Ct);
        await using var node = await TestNode.StartAsync(server.ClientUrl);
        var silent = FakeNodeId();
        var absent = FakeNodeId();
        await using var silentNode = await FakeNodeAsync(node.Connection, silent, silentInfo: true);
        await using var absentNode = await FakeNodeAsync(node.Connection, absent, silentInfo: false);
        var client = new NexClient(node.Connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(1) });

        var watch = Stopwatch.StartNew();
        var snapshot = await client.ReadTopSnapshotAsync(["default", "other"], Ct);
        watch.Stop();

        var real = Assert.Single(snapshot.Nodes, n => n.NodeId == node.NodeId);
        Assert.NotNull(real.Info);
        Assert.Null(real.Problem);
        Assert.Equal(node.Node.Tags[NexTags.NodeName], real.Name);
        Assert.Contains("no reply from node", Assert.Single(snapshot.Nodes, n => n.NodeId == silent).Problem, StringComparison.Ordinal);
        Assert.Contains("is listening", Assert.Single(snapshot.Nodes, n => n.NodeId == absent).Problem, StringComparison.Ordinal);
        Assert.Equal(["default", "other"], snapshot.Namespaces);

        // PING (at most the 1 s timeout) and then every INFO at once (at most 1 s more): the silent node costs one
        // timeout, not one per namespace or per node.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task ReadTopSnapshot_FlattensWorkloadsWithTheirNodeAndNamespace()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = "TOP" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var location = await Artifacts.UploadAsync(node.Connection, bucket, "sleeper", Artifacts.Script("exec sleep 600"));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location), ns: "topns");
        Assert.True(error is null, error);

        var snapshot = await node.Client.ReadTopSnapshotAsync(["topns"], Ct);
        var workload = Assert.Single(snapshot.Workloads, w => w.Machine.Id == id);
        Assert.Equal(node.NodeId, workload.NodeId);
        Assert.Equal(node.Node.Tags[NexTags.NodeName], workload.NodeName);
        Assert.Equal("topns", workload.Namespace);
        Assert.Equal("sleeper", workload.Machine.Workload.Name);

        Assert.Contains("topns", await node.Client.ReadRecordedNamespacesAsync(Ct));
    }
}
