using NATS.Client.KeyValueStore;

namespace Nex.Nats;

/// <summary>Reads what a KV bucket holds right now: one entry per key, its latest value.</summary>
public static class KvSnapshot
{
    /// <summary>
    /// Every key's current value, as of the end of the read. A watch delivers the initial values and then whatever
    /// changes while it does: a key written meanwhile arrives twice (old and new revision) and a key deleted meanwhile
    /// arrives as a delete after its value, so entries are kept by key and the last one stands. (Reading the
    /// stream's subject list and getting each key instead was tried: under load it missed a record that had been
    /// there all along, for seconds; the watch never did.)
    /// </summary>
    /// <param name="store">The bucket.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The live entries (puts only), in no particular order.</returns>
    public static async Task<IReadOnlyList<NatsKVEntry<byte[]>>> ReadAsync(INatsKVStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var entries = new Dictionary<string, NatsKVEntry<byte[]>>(StringComparer.Ordinal);
        var opts = new NatsKVWatchOpts { OnNoData = _ => ValueTask.FromResult(true) };
        await foreach (var entry in store.WatchAsync<byte[]>(opts: opts, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (entry.Operation == NatsKVOperation.Put)
            {
                entries[entry.Key] = entry;
            }
            else
            {
                entries.Remove(entry.Key);
            }

            // The last entry (delta 0) ends the read, even when it is a delete.
            if (entry.Delta == 0)
            {
                break;
            }
        }

        return [.. entries.Values];
    }
}
