using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Nex.Node.Fleet;

/// <summary>
/// Opens (creating if needed) one of the fleet's KV buckets on the node's main NATS: replicas = min(3, the servers
/// JetStream can place it on), tried 3, then 2, then 1, the first the cluster accepts (a lone server refuses more
/// than one). History 1: only the current value matters; its revision is what claims compare.
/// </summary>
internal static class FleetBucket
{
    private static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(5);

    /// <summary>What opening gave: the store and its replicas, or why there is none (one line).</summary>
    public sealed record Opened(INatsKVStore? Store, int Replicas, string? Problem);

    public static async Task<Opened> OpenAsync(INatsConnection nats, string bucket, string description, TimeSpan maxAge, CancellationToken cancellationToken)
    {
        var kv = new NatsKVContext(new NatsJSContext(nats));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(OpenTimeout);
        var clustered = !string.IsNullOrEmpty(nats.ServerInfo?.Cluster);
        string? problem = null;
        foreach (var replicas in clustered ? new[] { 3, 2, 1 } : [1])
        {
            try
            {
                var store = await OpenOrCreateAsync(kv, new NatsKVConfig(bucket)
                {
                    Description = description,
                    History = 1,
                    NumberOfReplicas = replicas,
                    Storage = NatsKVStorageType.File,
                    MaxAge = maxAge,
                }, timeout.Token).ConfigureAwait(false);
                return new Opened(store, replicas, null);
            }
            catch (NatsJSApiException ex)
            {
                problem = $"JetStream refused the {bucket} bucket: {ex.Error.Description} (code {ex.Error.Code})";
            }
            catch (NatsNoRespondersException)
            {
                problem = "JetStream is not enabled for the node's account on its main NATS";
                break;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                problem = $"JetStream did not answer within {OpenTimeout.TotalSeconds:0}s";
                break;
            }
            catch (NatsException ex)
            {
                problem = ex.Message;
                break;
            }
        }

        return new Opened(null, 0, problem ?? "");
    }

    private static async Task<INatsKVStore> OpenOrCreateAsync(NatsKVContext kv, NatsKVConfig config, CancellationToken cancellationToken)
    {
        try
        {
            return await kv.GetStoreAsync(config.Bucket, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsKVException)
        {
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
        }

        return await kv.CreateStoreAsync(config, cancellationToken).ConfigureAwait(false);
    }
}
