using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;
using Nex.Security;
using Nex.Node.Tests.Functions;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>
/// How artifacts reach agents: the node keeps recent ones (never a stale copy of a replaced object), sends
/// small ones inside the deploy request and serves large ones in chunks.
/// </summary>
public sealed class ArtifactCacheTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Returning(string text) => Encoding.UTF8.GetBytes($"(subject, payload) => '{text}'");

    [Fact]
    public async Task ARedeployOfTheSameObjectReusesIt_AndAReplacedObjectIsFetchedAgain()
    {
        await using var node = await FunctionTests.FunctionNodeAsync(nats.Url);
        var bucket = "C" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

        async Task<string> DeployAndInvokeAsync(byte[]? upload)
        {
            if (upload is not null)
            {
                await Artifacts.UploadAsync(node.Connection, bucket, "fn", upload);
            }

            var subject = FunctionTests.Unique("cache");
            var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "cachedfn", type: "v8", location: $"nats://{bucket}/fn", triggers: [subject]));
            Assert.True(error is null, error);
            var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, "x"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
            return Encoding.UTF8.GetString(reply.Data ?? []);
        }

        Assert.Equal("\"one\"", await DeployAndInvokeAsync(Returning("one")));
        Assert.Equal("\"one\"", await DeployAndInvokeAsync(null));
        Assert.Equal("\"two\"", await DeployAndInvokeAsync(Returning("two")));
    }

    [Fact]
    public async Task ARedeploy_LooksTheObjectUpWithOneDirectGet()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = "D" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        var location = await Artifacts.UploadAsync(node.Connection, bucket, "svc", Artifacts.Script("/bin/sleep 60"));
        var deploy = Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "svc", location: location);
        Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, deploy)).Error);

        await using var lookups = await Recorder.StartAsync(node.Connection, $"$JS.API.*.*.OBJ_{bucket}");
        Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, deploy)).Error);
        await lookups.WaitAsync((subject, _) => subject.StartsWith("$JS.API.DIRECT.GET.", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "direct get");
        Assert.Equal([$"$JS.API.DIRECT.GET.OBJ_{bucket}"], lookups.All.Select(m => m.Subject));
    }

    [Fact]
    public async Task ARedeployPinnedToTheBytesDigest_IsServedFromTheCache_WithoutAskingTheStore()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = "P" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        var script = Artifacts.Script("/bin/sleep 60");
        var location = await Artifacts.UploadAsync(node.Connection, bucket, "svc", script);
        var issuer = NexKeys.CreateAccount();
        string Deploy(string hash) => Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "svc", location: location, jwt: WorkloadJwt.Issue(issuer, "svc", hash, DateTimeOffset.UtcNow));
        Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, Deploy(Artifacts.Sha256(script)))).Error);

        // With the object gone, only a deploy that never asks the store can succeed; one with 0.2's
        // placeholder claim still asks, and learns that the object is gone.
        var objects = new NatsObjContext(new NatsJSContext(node.Connection));
        await (await objects.GetObjectStoreAsync(bucket, Ct)).DeleteAsync("svc", Ct);
        Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, Deploy(Artifacts.Sha256(script)))).Error);
        Assert.Equal($"Failed to cache workload bytes: object 'svc' not found in bucket '{bucket}'", (await Wire.DeployAsync(node.Connection, node.NodeId, Deploy(WorkloadJwt.PlaceholderHash))).Error);

        // A claim pinning other bytes is not served from the cache either.
        var other = new string('0', 64);
        Assert.Equal($"Failed to cache workload bytes: object 'svc' not found in bucket '{bucket}'", (await Wire.DeployAsync(node.Connection, node.NodeId, Deploy(other))).Error);
    }

    [Fact]
    public async Task AnArtifactTooLargeToSendInline_IsFetchedInChunks_AndRunsExactly()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");

        // Over the inline limit: the script reports its own size, then exits before sh reads the padding.
        var script = Encoding.UTF8.GetBytes("#!/bin/sh\necho \"size=$(wc -c < \"$0\")\"\nexec /bin/sleep 60\n#" + new string('x', 700_000) + "\n");
        Assert.True(script.Length > Nex.Protocol.AgentDeployRequest.InlineArtifactLimit);
        var bucket = "L" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        await Artifacts.UploadAsync(node.Connection, bucket, "big", script);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "big", location: $"nats://{bucket}/big"));
        Assert.True(error is null, error);
        var line = await logs.WaitAsync((s, b) => s.EndsWith("." + id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.Contains("size=", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the size line");
        Assert.Contains($"size={script.Length}", line.Body.GetProperty("text").GetString(), StringComparison.Ordinal);
    }
}
