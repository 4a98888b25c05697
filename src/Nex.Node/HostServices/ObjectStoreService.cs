using System.Globalization;
using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>The <c>objectstore</c> host service: get, put, delete, list on the workload's bucket (spec §6.3, §6.4).</summary>
internal sealed class ObjectStoreService(INatsConnection connection, BucketSettings settings) : IHostService
{
    private INatsObjStore? _store;

    public BucketSettings Settings => settings;

    public async Task<HostServiceResponse> HandleAsync(string method, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        switch (method)
        {
            case "get":
            case "put":
            case "delete":
                var name = ServiceSettings.Header(headers, HostServicesProtocol.ObjectNameHeader);
                if (name is null)
                {
                    return HostServiceResponse.Fail(HostServiceResponse.BadRequest, $"{HostServicesProtocol.ObjectNameHeader} header is required");
                }

                if (ReservedSubjects.TooLong("objectstore: object name", name) is { } tooLong)
                {
                    return HostServiceResponse.Fail(HostServiceResponse.BadRequest, tooLong);
                }

                var store = await StoreAsync(ct).ConfigureAwait(false);
                return method switch
                {
                    "get" => await GetAsync(store, name, ct).ConfigureAwait(false),
                    "put" => await PutAsync(store, name, body, ct).ConfigureAwait(false),
                    _ => await DeleteAsync(store, name, ct).ConfigureAwait(false),
                };
            case "list":
                return await ListAsync(await StoreAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            default:
                return HostServiceResponse.UnknownMethod(HostServicesProtocol.ObjectStore, method);
        }
    }

    private static async Task<HostServiceResponse> GetAsync(INatsObjStore store, string name, CancellationToken ct)
    {
        try
        {
            var bytes = await store.GetBytesAsync(name, ct).ConfigureAwait(false);
            return HostServiceResponse.Ok(bytes);
        }
        catch (NatsObjNotFoundException)
        {
            // 0.2 meant this to be a 404 but tested the wrong error type (spec §6.3).
            return HostServiceResponse.Fail(HostServiceResponse.NotFound, $"object not found: {name}");
        }
    }

    private static async Task<HostServiceResponse> PutAsync(INatsObjStore store, string name, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var info = await store.PutAsync(name, body.ToArray(), ct).ConfigureAwait(false);
        return HostServiceResponse.Ok(ReplyJson.Write(w => WriteInfo(w, info)));
    }

    private static async Task<HostServiceResponse> DeleteAsync(INatsObjStore store, string name, CancellationToken ct)
    {
        try
        {
            await store.DeleteAsync(name, ct).ConfigureAwait(false);
        }
        catch (NatsObjNotFoundException)
        {
            return HostServiceResponse.Fail(HostServiceResponse.NotFound, $"object not found: {name}");
        }

        return HostServiceResponse.Ok(ReplyJson.Success());
    }

    private static async Task<HostServiceResponse> ListAsync(INatsObjStore store, CancellationToken ct)
    {
        var infos = new List<ObjectMetadata>();

        // NATS.Net's list waits forever for the first entry of a bucket that has never held one.
        var status = await store.GetStatusAsync(ct).ConfigureAwait(false);
        if (status.Info.State.Messages == 0)
        {
            return HostServiceResponse.Ok("[]"u8.ToArray());
        }

        await foreach (var info in store.ListAsync(cancellationToken: ct).ConfigureAwait(false))
        {
            infos.Add(info);
        }

        // An empty bucket is an empty array, not a failure (spec §11 #12).
        return HostServiceResponse.Ok(ReplyJson.Write(w =>
        {
            w.WriteStartArray();
            foreach (var info in infos)
            {
                WriteInfo(w, info);
            }

            w.WriteEndArray();
        }));
    }

    /// <summary>Go's <c>ObjectInfo</c> JSON: the fixed fields, then the optional ones when set.</summary>
    internal static void WriteInfo(Utf8JsonWriter w, ObjectMetadata info)
    {
        w.WriteStartObject();
        w.WriteString("name", info.Name);
        if (!string.IsNullOrEmpty(info.Description))
        {
            w.WriteString("description", info.Description);
        }

        if (info.Headers is { Count: > 0 } headers)
        {
            w.WriteStartObject("headers");
            foreach (var (key, values) in headers)
            {
                w.WriteStartArray(key);
                foreach (var value in values)
                {
                    w.WriteStringValue(value);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        if (info.Metadata is { Count: > 0 } metadata)
        {
            w.WriteStartObject("metadata");
            foreach (var (key, value) in metadata)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
        }

        w.WriteString("bucket", info.Bucket);
        w.WriteString("nuid", info.Nuid);
        w.WriteNumber("size", info.Size);
        w.WriteString("mtime", info.MTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
        w.WriteNumber("chunks", info.Chunks);
        w.WriteString("digest", info.Digest);
        if (info.Deleted)
        {
            w.WriteBoolean("deleted", true);
        }

        w.WriteEndObject();
    }

    /// <summary>The bucket handle, opened (or JIT-created) once and cached.</summary>
    private async Task<INatsObjStore> StoreAsync(CancellationToken ct)
    {
        if (_store is { } cached)
        {
            return cached;
        }

        var obj = new NatsObjContext(new NatsJSContext(connection));
        INatsObjStore store;
        try
        {
            store = await obj.GetObjectStoreAsync(settings.Bucket, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (BucketSettings.IsMissingBucket(ex))
        {
            if (!settings.JitProvision)
            {
                throw settings.Missing();
            }

            store = await obj.CreateObjectStoreAsync(new NatsObjConfig(settings.Bucket) { MaxBytes = settings.MaxBytes }, ct).ConfigureAwait(false);
        }

        _store = store;
        return store;
    }
}
