using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Testing;
using Xunit;

namespace Nex.Nats.Tests;

public sealed class KvSnapshotTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EmptyBucket_ReadsNothing_AndDeletedKeysAreLeftOut()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var store = await new NatsKVContext(new NatsJSContext(connection)).CreateStoreAsync(new NatsKVConfig("snap_empty"), Ct);
        Assert.Empty(await KvSnapshot.ReadAsync(store, Ct));

        await store.PutAsync("a", "1"u8.ToArray(), cancellationToken: Ct);
        await store.PutAsync("b", "1"u8.ToArray(), cancellationToken: Ct);
        await store.PutAsync("a", "2"u8.ToArray(), cancellationToken: Ct);
        await store.DeleteAsync("b", cancellationToken: Ct);
        var entry = Assert.Single(await KvSnapshot.ReadAsync(store, Ct));
        Assert.Equal(("a", "2"), (entry.Key, Encoding.UTF8.GetString(entry.Value!)));
    }

    // A watch reading the initial values while keys are written delivers a key twice (the fleet's 100-round test
    // threw on it); a snapshot holds every key at most once, and once writes stop, with its latest value. (While keys
    // are rewritten, nats-server 2.9 was seen to end the watch without one of them: not asserted here.)
    [Fact]
    public async Task KeysWrittenDuringTheRead_AppearOnce_WithTheirLatestValue()
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats.Url });
        var store = await new NatsKVContext(new NatsJSContext(connection)).CreateStoreAsync(new NatsKVConfig("snap_busy") { History = 1 }, Ct);
        const int keys = 200;
        for (var i = 0; i < keys; i++)
        {
            await store.PutAsync($"k{i}", "0"u8.ToArray(), cancellationToken: Ct);
        }

        for (var round = 1; round <= 5; round++)
        {
            var value = Encoding.UTF8.GetBytes(round.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var writer = Task.Run(
                async () =>
                {
                    for (var i = 0; i < keys; i += 7)
                    {
                        await store.PutAsync($"k{i}", value, cancellationToken: Ct);
                    }
                },
                Ct);
            var snapshot = await KvSnapshot.ReadAsync(store, Ct);
            await writer;
            Assert.Equal(snapshot.Count, snapshot.Select(e => e.Key).Distinct().Count());
        }

        // Once writes stop, the snapshot is exactly the bucket's state.
        var last = await KvSnapshot.ReadAsync(store, Ct);
        Assert.Equal(keys, last.Count);
        Assert.All(last.Where(e => int.Parse(e.Key[1..], System.Globalization.CultureInfo.InvariantCulture) % 7 == 0), e => Assert.Equal("5", Encoding.UTF8.GetString(e.Value!)));
    }
}
