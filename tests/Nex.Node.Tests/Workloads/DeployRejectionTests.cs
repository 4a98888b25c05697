using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.ObjectStore;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>Every DEPLOY rejection of spec §12.2 that needs an artifact or an agent, with 0.2's words.</summary>
public sealed class DeployRejectionTests(NatsServerFixture nats)
{
    private static string Bucket() => "R" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

    private static async Task<string?> DeployError(TestNode node, string body) => (await Wire.DeployAsync(node.Connection, node.NodeId, body)).Error;

    [Fact]
    public async Task MissingBucket_AndMissingKey()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = Bucket();
        Assert.Equal($"Failed to cache workload bytes: object store bucket '{bucket}' not found", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: $"nats://{bucket}/echoservice")));
        await Artifacts.UploadAsync(node.Connection, bucket, "other", Artifacts.Script("exit 0"));
        Assert.Equal($"Failed to cache workload bytes: object 'echoservice' not found in bucket '{bucket}'", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: $"nats://{bucket}/echoservice")));
    }

    [Fact]
    public async Task AnObjectOrBucketDeletedAfterADeploy_IsReportedMissing_NotServedFromTheCache()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = Bucket();
        var location = await Artifacts.UploadAsync(node.Connection, bucket, "gone", Artifacts.Script("/bin/sleep 60"));
        await Artifacts.UploadAsync(node.Connection, bucket, "kept", Artifacts.Script("/bin/sleep 60"));
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "gone", location: location)));

        var objects = new NatsObjContext(new NatsJSContext(node.Connection));
        await (await objects.GetObjectStoreAsync(bucket, TestContext.Current.CancellationToken)).DeleteAsync("gone", TestContext.Current.CancellationToken);
        Assert.Equal($"Failed to cache workload bytes: object 'gone' not found in bucket '{bucket}'", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "gone", location: location)));

        // The node knows the bucket now; once deleted it must read as missing.
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "kept", location: $"nats://{bucket}/kept")));
        await objects.DeleteObjectStore(bucket, TestContext.Current.CancellationToken);
        Assert.Equal($"Failed to cache workload bytes: object store bucket '{bucket}' not found", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "kept", location: $"nats://{bucket}/kept")));
    }

    [Fact]
    public async Task ABucketWithoutDirectGets_IsReadTheUsualWay()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = Bucket();
        var js = new NatsJSContext(node.Connection);

        // An object store as older clients made it: the same stream, without allow_direct.
        await js.CreateStreamAsync(
            new StreamConfig($"OBJ_{bucket}", [$"$O.{bucket}.C.>", $"$O.{bucket}.M.>"]) { Storage = StreamConfigStorage.Memory, AllowRollupHdrs = true, Discard = StreamConfigDiscard.New, AllowDirect = false },
            TestContext.Current.CancellationToken);
        var store = await new NatsObjContext(js).GetObjectStoreAsync(bucket, TestContext.Current.CancellationToken);
        await store.PutAsync("old", Artifacts.Script("/bin/sleep 60"), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "old", location: $"nats://{bucket}/old")));
        Assert.Equal($"Failed to cache workload bytes: object 'nope' not found in bucket '{bucket}'", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "nope", location: $"nats://{bucket}/nope")));
    }

    [Fact]
    public async Task MaxWorkloadBytes()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { NodeLimits = new() { MaxWorkloadBytes = 10 } });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "big", Artifacts.Script("/bin/sleep 60"));
        Assert.Equal("Workload file size would exceed node limitations", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "big", location: location)));
    }

    [Fact]
    public async Task MaxTotalBytes_CountsRunningWorkloads()
    {
        var script = Artifacts.Script("/bin/sleep 60");
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { NodeLimits = new() { MaxTotalBytes = script.Length + (script.Length / 2) } });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "half", script);
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "one", location: location)));
        Assert.Equal("Workload file size would exceed node total limitations", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "two", location: location)));
    }

    [Fact]
    public async Task MaxWorkloads()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { NodeLimits = new() { MaxWorkloads = 1 } });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 60"));
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "one", location: location)));
        Assert.Equal("Node is at maximum workload limit. Deploy request denied", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "two", location: location)));
    }

    [Fact]
    public async Task ZeroByteArtifact_IsRejectedByTheAgent()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "empty", []);
        Assert.Equal("Failed to deploy workload: workload rejected by agent: total bytes is required", await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "empty", location: location)));
    }

    [Fact]
    public async Task EssentialFunction_IsRejectedByTheAgent()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8", "wasm"] });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "fn", "(s, p) => p"u8.ToArray());
        Assert.Equal(
            "Failed to deploy workload: workload rejected by agent: essential flag is not supported for workload type",
            await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "fn", type: "v8", location: location, triggers: ["fn.trigger"], essential: true)));
    }

    [Fact]
    public async Task FunctionWithoutTriggers_IsRejectedByTheAgent()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8", "wasm"] });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "fn", [0, 97, 115, 109, 1, 0, 0, 0]);
        Assert.Equal(
            "Failed to deploy workload: workload rejected by agent: at least one trigger subject is required for this workload type",
            await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "fn", type: "wasm", location: location)));
    }

    [Fact]
    public async Task HashClaim_IsVerifiedWhenItIsARealDigest()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var script = Artifacts.Script("/bin/sleep 60");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "hashed", script);
        var issuer = NexKeys.CreateAccount();
        var wrong = new string('0', 64);
        var error = await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "hashed", location: location, jwt: WorkloadJwt.Issue(issuer, "hashed", wrong, DateTimeOffset.UtcNow)));
        Assert.Equal($"Failed to cache workload bytes: the artifact's SHA-256 {Artifacts.Sha256(script)} does not match the workload JWT hash claim {wrong}", error);

        // The real digest passes, and so does 0.2's placeholder (never compared, spec §2.1).
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "hashed", location: location, jwt: WorkloadJwt.Issue(issuer, "hashed", Artifacts.Sha256(script), DateTimeOffset.UtcNow))));
        Assert.Null(await DeployError(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "hashed", location: location, jwt: WorkloadJwt.Issue(issuer, "hashed", WorkloadJwt.PlaceholderHash, DateTimeOffset.UtcNow))));
    }
}
