using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Nats;
using Nex.Protocol;

namespace Nex.Client;

/// <summary>A desired-state record as read, with its key and KV revision.</summary>
/// <param name="Key"><c>&lt;namespace&gt;.&lt;first workload id&gt;</c>.</param>
/// <param name="Workload">The record.</param>
/// <param name="Revision">Its KV revision.</param>
public sealed record DesiredRecord(string Key, DesiredWorkload Workload, ulong Revision);

/// <summary>Reads the nodes' desired state (the <see cref="DesiredState.Bucket"/> KV bucket) for <c>nex workload ls --desired</c>, and for <c>nex stop</c> and <c>devrun</c> to find copies that run nowhere.</summary>
public static class DesiredStateReader
{
    // A KV watch can stall while its stream's leader moves (seen for minutes on a loaded 3-server cluster after a
    // server went): a read is given up after this with a clear error, never left waiting.
    private static readonly TimeSpan ReadBound = TimeSpan.FromSeconds(10);

    /// <summary>Every record; null when there is no bucket (no node with JetStream recorded a workload) or no JetStream.</summary>
    /// <exception cref="NexClientException">JetStream gave no complete answer within 10 s.</exception>
    public static async Task<IReadOnlyList<DesiredRecord>?> ReadAsync(INatsConnection nats, CancellationToken cancellationToken = default)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(ReadBound);
        try
        {
            INatsKVStore store;
            try
            {
                store = await new NatsKVContext(new NatsJSContext(nats)).GetStoreAsync(DesiredState.Bucket, bounded.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsKVException or NatsJSApiException or NatsNoRespondersException)
            {
                return null;
            }

            var records = new List<DesiredRecord>();
            foreach (var entry in await KvSnapshot.ReadAsync(store, bounded.Token).ConfigureAwait(false))
            {
                if (entry.Value is { Length: > 0 } value && TryParse(value) is { } workload)
                {
                    records.Add(new DesiredRecord(entry.Key, workload, entry.Revision));
                }
            }

            return records;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NexClientException($"No complete answer reading the {DesiredState.Bucket} bucket within {ReadBound.TotalSeconds:0} s (JetStream busy or moving the stream's leader); try again", ex);
        }
    }

    private static DesiredWorkload? TryParse(byte[] value)
    {
        try
        {
            return JsonSerializer.Deserialize(value, NexJson.Context.DesiredWorkload);
        }
        catch (JsonException)
        {
            return null; // a record from a newer node we cannot read: left out
        }
    }
}
