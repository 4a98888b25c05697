using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>The <c>kv</c> host service: get, set, delete, keys on the workload's bucket (spec §6.3, §6.4).</summary>
internal sealed class KeyValueService(INatsConnection connection, BucketSettings settings) : IHostService
{
    private INatsKVStore? _store;

    public BucketSettings Settings => settings;

    public async Task<HostServiceResponse> HandleAsync(string method, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        switch (method)
        {
            case "get":
            case "set":
            case "delete":
                var key = ServiceSettings.Header(headers, HostServicesProtocol.KeyHeader);
                if (key is null)
                {
                    return HostServiceResponse.Fail(HostServiceResponse.BadRequest, $"{HostServicesProtocol.KeyHeader} header is required");
                }

                if (ReservedSubjects.TooLong("kv: key", key) is { } tooLong)
                {
                    return HostServiceResponse.Fail(HostServiceResponse.BadRequest, tooLong);
                }

                var store = await StoreAsync(ct).ConfigureAwait(false);
                return method switch
                {
                    "get" => await GetAsync(store, key, ct).ConfigureAwait(false),
                    "set" => await SetAsync(store, key, body, ct).ConfigureAwait(false),
                    _ => await DeleteAsync(store, key, ct).ConfigureAwait(false),
                };
            case "keys":
                return await KeysAsync(await StoreAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            default:
                return HostServiceResponse.UnknownMethod(HostServicesProtocol.Kv, method);
        }
    }

    private static async Task<HostServiceResponse> GetAsync(INatsKVStore store, string key, CancellationToken ct)
    {
        try
        {
            var entry = await store.GetEntryAsync<byte[]>(key, cancellationToken: ct).ConfigureAwait(false);
            return HostServiceResponse.Ok(entry.Value ?? []);
        }
        catch (Exception ex) when (ex is NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
        {
            return HostServiceResponse.Fail(HostServiceResponse.NotFound, $"key not found: {key}");
        }
    }

    private static async Task<HostServiceResponse> SetAsync(INatsKVStore store, string key, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var revision = await store.PutAsync(key, body.ToArray(), cancellationToken: ct).ConfigureAwait(false);
        return HostServiceResponse.Ok(ReplyJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("revision", revision);
            w.WriteBoolean("success", true);
            w.WriteEndObject();
        }));
    }

    private static async Task<HostServiceResponse> DeleteAsync(INatsKVStore store, string key, CancellationToken ct)
    {
        await store.DeleteAsync(key, cancellationToken: ct).ConfigureAwait(false);
        return HostServiceResponse.Ok(ReplyJson.Success());
    }

    private static async Task<HostServiceResponse> KeysAsync(INatsKVStore store, CancellationToken ct)
    {
        var keys = new List<string>();
        await foreach (var key in store.GetKeysAsync(cancellationToken: ct).ConfigureAwait(false))
        {
            keys.Add(key);
        }

        // An empty bucket is an empty array, not a failure (spec §11 #12).
        return HostServiceResponse.Ok(ReplyJson.Write(w =>
        {
            w.WriteStartArray();
            foreach (var key in keys)
            {
                w.WriteStringValue(key);
            }

            w.WriteEndArray();
        }));
    }

    /// <summary>The bucket handle, opened (or JIT-created) once and cached.</summary>
    private async Task<INatsKVStore> StoreAsync(CancellationToken ct)
    {
        if (_store is { } cached)
        {
            return cached;
        }

        var kv = new NatsKVContext(new NatsJSContext(connection));
        INatsKVStore store;
        try
        {
            store = await kv.GetStoreAsync(settings.Bucket, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (BucketSettings.IsMissingBucket(ex))
        {
            if (!settings.JitProvision)
            {
                throw settings.Missing();
            }

            store = await kv.CreateStoreAsync(new NatsKVConfig(settings.Bucket) { MaxBytes = settings.MaxBytes }, ct).ConfigureAwait(false);
        }

        _store = store;
        return store;
    }
}
