using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Nex.Nats;

/// <summary>Reads what a KV bucket holds right now: one entry per key, its latest value.</summary>
public static class KvSnapshot
{
    /// <summary>
    /// Every key's current value. The keys come from the bucket's stream at one moment (stream info with a
    /// subjects filter), then each key's latest entry is read. A watch is not used: one that delivers the initial
    /// values while keys are written can deliver a key twice, and on nats-server 2.9 it was seen to end (delta 0)
    /// without a key that existed all along (its old revision replaced before delivery).
    /// </summary>
    /// <param name="store">The bucket.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The live entries (puts only, deleted and purged keys left out), in key order.</returns>
    public static async Task<IReadOnlyList<NatsKVEntry<byte[]>>> ReadAsync(INatsKVStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var prefix = $"$KV.{store.Bucket}.";
        var subjects = new SortedSet<string>(StringComparer.Ordinal);
        while (true)
        {
            // The server pages a stream's subjects (100,000 at a time on 2.9); ask again from where the last page ended.
            var stream = await store.JetStreamContext.GetStreamAsync(
                $"KV_{store.Bucket}",
                new StreamInfoRequest { SubjectsFilter = prefix + ">", Offset = subjects.Count },
                cancellationToken).ConfigureAwait(false);
            var page = stream.Info.State.Subjects;
            if (page is null || page.Count == 0)
            {
                break;
            }

            subjects.UnionWith(page.Keys);
            if (subjects.Count >= stream.Info.State.NumSubjects)
            {
                break;
            }
        }

        var entries = new List<NatsKVEntry<byte[]>>(subjects.Count);
        foreach (var subject in subjects)
        {
            // A key deleted or purged since (or before: its last message is a marker) is not in the bucket.
            var entry = await store.TryGetEntryAsync<byte[]>(subject[prefix.Length..], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (entry.Success && entry.Value.Operation == NatsKVOperation.Put)
            {
                entries.Add(entry.Value);
            }
        }

        return entries;
    }
}
