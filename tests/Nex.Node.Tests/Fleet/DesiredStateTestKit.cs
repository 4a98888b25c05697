using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Node.Tests.Fleet;

/// <summary>What the desired-state and recovery tests share: reading the bucket, seed files, waiting.</summary>
internal static class DesiredStateTestKit
{
    public static string Bucket() => "T" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

    /// <summary>The record under <paramref name="key"/> and its raw bytes, or nulls when there is none.</summary>
    public static async Task<(DesiredWorkload? Record, string? Raw, ulong Revision)> ReadAsync(INatsConnection nats, string key)
    {
        var store = await new NatsKVContext(new NatsJSContext(nats)).GetStoreAsync(DesiredState.Bucket);
        var entry = await store.TryGetEntryAsync<byte[]>(key);
        if (!entry.Success || entry.Value.Value is not { Length: > 0 } bytes)
        {
            return (null, null, 0);
        }

        return (JsonSerializer.Deserialize(bytes, NexJson.Context.DesiredWorkload), System.Text.Encoding.UTF8.GetString(bytes), entry.Value.Revision);
    }

    /// <summary>A node seed file and an xkey seed file: the same identity for every node started with them.</summary>
    public static (string NodeSeed, string XkeySeed, string NodeId) NewIdentity(string directory)
    {
        var server = NexKeys.CreateServer();
        var nodeSeed = Path.Combine(directory, "node.nk");
        var xkeySeed = Path.Combine(directory, "node.xk");
        NexKeys.WriteSeedFile(nodeSeed, server);
        NexKeys.WriteSeedFile(xkeySeed, NexKeys.CreateCurve());
        return (nodeSeed, xkeySeed, server.GetPublicKey());
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, double seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }

            await Task.Delay(50);
        }
    }
}
