using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>A downloaded workload artifact.</summary>
internal sealed record Artifact(byte[] Bytes, string Sha256);

/// <summary>An object found in a store: where it is and what the store says about it.</summary>
internal sealed record ArtifactHandle(INatsObjStore Store, ObjectMetadata Info, string CacheKey)
{
    public long Size => (long)Info.Size;
}

/// <summary>
/// Reads workload artifacts from the JetStream object store on the main NATS system (spec §3.1–3.2)
/// with the node's own connection. Sizes are checked against the node limits before the download.
/// </summary>
/// <remarks>
/// Deploying the same artifact again is the common case (replicas, restarts, redeploys), so the bytes
/// of recent objects are kept: an object-store object never changes under its <c>nuid</c> (a new put
/// gets a new one), so a cached copy is used only while the store still names the same nuid and digest.
/// That turns a download (a consumer and its chunks, several round trips) into one metadata lookup.
/// The lookup is a JetStream direct get where the bucket allows it (every object store made by a current
/// client does): nats-server answers it from the stream itself, where the object store's own lookup goes
/// through the JetStream API's queue: about a third slower, timed inside deploys. Anything but a live object
/// found that way is looked up again the usual way, so errors read the same either way.
/// </remarks>
internal sealed class ArtifactFetcher(INatsConnection mainNats, long cacheLimitBytes = ArtifactFetcher.DefaultCacheLimitBytes)
{
    /// <summary>How many bytes of artifacts are kept for redeploys.</summary>
    public const long DefaultCacheLimitBytes = 256L * 1024 * 1024;

    private static readonly TimeSpan DirectGetTimeout = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(string Domain, string Bucket), OpenStore> _stores = new();
    private readonly object _cacheGate = new();
    private readonly Dictionary<string, CachedArtifact> _cache = new(StringComparer.Ordinal);
    private long _cachedBytes;
    private long _uses;

    /// <summary>Finds the object; errors are the sentence after "Failed to cache workload bytes: ".</summary>
    public async Task<ArtifactHandle> LocateAsync(WorkloadLocation location, string? jsDomain, CancellationToken cancellationToken)
    {
        // JetStream would refuse these names with its own exception text; say it in one line here.
        // (255: JetStream's stream-name limit, well inside a subject nats-server accepts.)
        if (location.Bucket.Length is 0 or > 255 || !location.Bucket.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArtifactException($"'{SubjectToken.Shorten(location.Bucket)}' is not an object store bucket name (letters, digits, '-' and '_'); use nats://BUCKET/key");
        }

        if (ReservedSubjects.TooLong("object", location.Key) is { } tooLong)
        {
            throw new ArtifactException(tooLong);
        }

        if (string.IsNullOrWhiteSpace(location.Key))
        {
            throw new ArtifactException($"the location names no object in bucket '{location.Bucket}'; use nats://BUCKET/key");
        }

        var storeKey = (jsDomain ?? string.Empty, location.Bucket);
        if (_stores.TryGetValue(storeKey, out var known))
        {
            try
            {
                return await InfoAsync(known, location, storeKey, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsJSException or ArtifactException)
            {
                // The bucket may have been deleted or recreated: look it up afresh for the real error.
                _stores.TryRemove(storeKey, out _);
            }
        }

        var store = await OpenStoreAsync(location.Bucket, jsDomain, cancellationToken).ConfigureAwait(false);
        _stores[storeKey] = store;
        return await InfoAsync(store, location, storeKey, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The bytes <paramref name="location"/> gave last, when they are exactly the ones the workload JWT pins
    /// (its hash claim is a real SHA-256, as <c>nex devrun</c> sends): then the store is not asked at all,
    /// which saves a deploy its one round trip to the main NATS system. Content-addressed like a pinned image
    /// digest: the signed claim says which bytes to run, so a later replace or delete of the object does not
    /// change what such a deploy runs. Null when the node does not hold those bytes from there.
    /// </summary>
    public Artifact? TryGetPinned(WorkloadLocation location, string? jsDomain, string sha256)
    {
        lock (_cacheGate)
        {
            if (_cache.TryGetValue(CacheKey(jsDomain ?? string.Empty, location.Bucket, location.Key), out var cached)
                && string.Equals(cached.Artifact.Sha256, sha256, StringComparison.OrdinalIgnoreCase))
            {
                cached.LastUse = ++_uses;
                return cached.Artifact;
            }
        }

        return null;
    }

    /// <summary>The object's bytes, from the cache when the store still holds the same object.</summary>
    public async Task<Artifact> GetAsync(ArtifactHandle handle, CancellationToken cancellationToken)
    {
        lock (_cacheGate)
        {
            if (_cache.TryGetValue(handle.CacheKey, out var cached) && cached.Nuid == handle.Info.Nuid && cached.Digest == handle.Info.Digest)
            {
                cached.LastUse = ++_uses;
                return cached.Artifact;
            }
        }

        var artifact = await DownloadAsync(handle.Store, handle.Info.Name, cancellationToken).ConfigureAwait(false);
        Remember(handle, artifact);
        return artifact;
    }

    private static async Task<Artifact> DownloadAsync(INatsObjStore store, string key, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        try
        {
            await store.GetAsync(key, buffer, leaveOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsObjException ex)
        {
            throw new ArtifactException($"could not read object '{key}': {ex.Message}");
        }

        var bytes = buffer.ToArray();
        return new Artifact(bytes, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    private async Task<OpenStore> OpenStoreAsync(string bucket, string? jsDomain, CancellationToken cancellationToken)
    {
        var connection = (NatsConnection)mainNats;
        var js = string.IsNullOrEmpty(jsDomain)
            ? new NatsJSContext(connection)
            : new NatsJSContext(connection, new NatsJSOpts(connection.Opts, domain: jsDomain));
        try
        {
            var stream = await js.GetStreamAsync($"OBJ_{bucket}", cancellationToken: cancellationToken).ConfigureAwait(false);
            var store = await new NatsObjContext(js).GetObjectStoreAsync(bucket, cancellationToken).ConfigureAwait(false);
            return new OpenStore(store, stream.Info.Config.AllowDirect ? stream : null);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            throw new ArtifactException($"object store bucket '{bucket}' not found");
        }
        catch (NatsNoRespondersException)
        {
            throw new ArtifactException($"JetStream is not available{(string.IsNullOrEmpty(jsDomain) ? "" : $" in domain '{jsDomain}'")}; cannot read bucket '{bucket}'");
        }
    }

    private static async Task<ArtifactHandle> InfoAsync(OpenStore open, WorkloadLocation location, (string Domain, string Bucket) storeKey, CancellationToken cancellationToken)
    {
        var cacheKey = CacheKey(storeKey.Domain, storeKey.Bucket, location.Key);
        if (open.Direct is { } direct && await DirectInfoAsync(direct, storeKey.Bucket, location.Key, cancellationToken).ConfigureAwait(false) is { } found)
        {
            return new ArtifactHandle(open.Store, found, cacheKey);
        }

        try
        {
            var info = await open.Store.GetInfoAsync(location.Key, cancellationToken: cancellationToken).ConfigureAwait(false);
            return new ArtifactHandle(open.Store, info, cacheKey);
        }
        catch (NatsObjNotFoundException)
        {
            throw new ArtifactException($"object '{SubjectToken.Shorten(location.Key)}' not found in bucket '{location.Bucket}'");
        }
    }

    // The object's metadata message, read the way the object store writes it (its subject is the key in
    // padded URL-safe base64); null for anything but a live object, which the caller looks up again.
    // A deleted stream does not answer at all (the JetStream API itself takes the request), hence the timeout.
    private static async Task<ObjectMetadata?> DirectInfoAsync(INatsJSStream stream, string bucket, string key, CancellationToken cancellationToken)
    {
        var subject = $"$O.{bucket}.M.{Convert.ToBase64String(Encoding.UTF8.GetBytes(key)).Replace('+', '-').Replace('/', '_')}";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DirectGetTimeout);
        try
        {
            var reply = await stream.GetDirectAsync<byte[]>(new StreamMsgGetRequest { LastBySubj = subject }, cancellationToken: timeout.Token).ConfigureAwait(false);
            if (reply.HasNoResponders || reply.Headers?.Code is > 0 and not 200 || reply.Data is not { Length: > 0 } data)
            {
                return null;
            }

            return JsonSerializer.Deserialize(data, ObjectMetadataJson.Default.ObjectMetadata) is { Deleted: false } info ? info : null;
        }
        catch (Exception ex) when (ex is NatsException or JsonException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    private static string CacheKey(string domain, string bucket, string key) => $"{domain}\n{bucket}\n{key}";

    private void Remember(ArtifactHandle handle, Artifact artifact)
    {
        var size = artifact.Bytes.LongLength;
        if (size > cacheLimitBytes / 4 || string.IsNullOrEmpty(handle.Info.Nuid))
        {
            return; // a few large artifacts would evict everything else
        }

        lock (_cacheGate)
        {
            if (_cache.Remove(handle.CacheKey, out var old))
            {
                _cachedBytes -= old.Artifact.Bytes.LongLength;
            }

            while (_cachedBytes + size > cacheLimitBytes && _cache.Count > 0)
            {
                var oldest = _cache.MinBy(e => e.Value.LastUse);
                _cache.Remove(oldest.Key);
                _cachedBytes -= oldest.Value.Artifact.Bytes.LongLength;
            }

            _cache[handle.CacheKey] = new CachedArtifact(handle.Info.Nuid, handle.Info.Digest, artifact) { LastUse = ++_uses };
            _cachedBytes += size;
        }
    }

    // The bucket as opened: its object store, and its stream when that allows direct gets.
    private sealed record OpenStore(INatsObjStore Store, INatsJSStream? Direct);

    private sealed record CachedArtifact(string Nuid, string? Digest, Artifact Artifact)
    {
        public long LastUse { get; set; }
    }
}

/// <summary>Object-store metadata as the store writes it.</summary>
[JsonSerializable(typeof(ObjectMetadata))]
internal sealed partial class ObjectMetadataJson : JsonSerializerContext;

/// <summary>The artifact cannot be had; the message follows "Failed to cache workload bytes: ".</summary>
internal sealed class ArtifactException(string message) : Exception(message);
