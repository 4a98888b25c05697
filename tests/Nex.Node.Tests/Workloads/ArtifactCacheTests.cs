using System.Text;
using NATS.Client.Core;
using Nex.Node.Tests.Functions;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>The node keeps recent artifacts, but never serves a stale copy of an object that was replaced.</summary>
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
}
