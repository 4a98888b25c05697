using System.Security.Cryptography;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.ObjectStore;
using Nex.Nats;
using Nex.Node.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

public sealed class ArtifactStoreTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Recorder : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value)
        {
            lock (Values)
            {
                Values.Add(value);
            }
        }
    }

    [Fact]
    public async Task UploadFile_CreatesTheDevBucketAsIn02_AndTheBytesAndHashRoundTrip()
    {
        // A server of our own: the bucket must not exist yet.
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: Ct);
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        using var dir = new TempDirectory();
        var file = dir.File("echo.service.bin");
        var bytes = RandomNumberGenerator.GetBytes(300_000); // several object store chunks
        await File.WriteAllBytesAsync(file, bytes, Ct);

        var progress = new Recorder();
        var store = new ArtifactStore(conn);
        var upload = await store.UploadFileAsync(file, 50L * 1024 * 1024, progress, Ct);

        Assert.Equal("NEXCLIFILES", upload.Bucket);
        Assert.Equal("echoservicebin", upload.Key);
        Assert.Equal("nats://NEXCLIFILES/echoservicebin", upload.Location.ToString());
        Assert.Equal("NEXCLIFILES", upload.Location.Bucket);
        Assert.Equal("echoservicebin", upload.Location.Key);
        Assert.Equal(bytes.Length, upload.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), upload.Sha256);
        Assert.True(progress.Values.Count > 1);
        Assert.Equal(bytes.Length, progress.Values[^1]);
        Assert.Equal(progress.Values.Order().ToList(), progress.Values);

        var js = new NatsJSContext(conn);
        var stream = await js.GetStreamAsync("OBJ_NEXCLIFILES", cancellationToken: Ct);
        Assert.Equal("Ad hoc object storage for NEX CLI developer mode uploads", stream.Info.Config.Description);
        Assert.Equal(50L * 1024 * 1024, stream.Info.Config.MaxBytes);
        Assert.Equal(StreamConfigStorage.File, stream.Info.Config.Storage);

        var objects = new NatsObjContext(js);
        var bucket = await objects.GetObjectStoreAsync("NEXCLIFILES", Ct);
        Assert.Equal(bytes, await bucket.GetBytesAsync("echoservicebin", Ct));

        // An existing bucket is used as it is, and the object is replaced.
        var smaller = RandomNumberGenerator.GetBytes(10);
        await File.WriteAllBytesAsync(file, smaller, Ct);
        var second = await store.UploadFileAsync(file, cancellationToken: Ct);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(smaller)), second.Sha256);
        Assert.Equal(smaller, await bucket.GetBytesAsync("echoservicebin", Ct));
        stream = await js.GetStreamAsync("OBJ_NEXCLIFILES", cancellationToken: Ct);
        Assert.Equal(50L * 1024 * 1024, stream.Info.Config.MaxBytes);
    }

    [Fact]
    public async Task UploadFile_DefaultLimitIs100MiB()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true }, cancellationToken: Ct);
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("echofunction.js"), "(subject, payload) => payload", Ct);

        var upload = await new ArtifactStore(conn).UploadFileAsync(dir.File("echofunction.js"), cancellationToken: Ct);
        Assert.Equal("echofunctionjs", upload.Key);
        var stream = await new NatsJSContext(conn).GetStreamAsync("OBJ_NEXCLIFILES", cancellationToken: Ct);
        Assert.Equal(100L * 1024 * 1024, stream.Info.Config.MaxBytes);
    }

    [Fact]
    public async Task Upload_AnyStreamToAnyBucket()
    {
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        var bucket = "ARTIFACTS" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var bytes = RandomNumberGenerator.GetBytes(1000);
        using var content = new MemoryStream(bytes);

        var upload = await new ArtifactStore(conn).UploadAsync(bucket, "thing", content, cancellationToken: Ct);
        Assert.Equal($"nats://{bucket}/thing", upload.Location.ToString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), upload.Sha256);
        var store = await new NatsObjContext(new NatsJSContext(conn)).GetObjectStoreAsync(bucket, Ct);
        Assert.Equal(bytes, await store.GetBytesAsync("thing", Ct));
        Assert.True(content.CanRead, "the caller's stream is left open");
    }

    [Fact]
    public async Task Upload_WithoutJetStream_SaysSoInOneLine()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = false }, cancellationToken: Ct);
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        using var content = new MemoryStream([1, 2, 3]);
        var ex = await Assert.ThrowsAsync<NexClientException>(() => new ArtifactStore(conn).UploadAsync("B", "k", content, cancellationToken: Ct));
        Assert.Contains("JetStream", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task UploadFile_MissingFile_IsOneLine()
    {
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        var ex = await Assert.ThrowsAsync<NexClientException>(() => new ArtifactStore(conn).UploadFileAsync("/nonexistent/echo", cancellationToken: Ct));
        Assert.StartsWith("cannot read '/nonexistent/echo'", ex.Message, StringComparison.Ordinal);
    }
}
