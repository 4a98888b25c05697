using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;
using NATS.Client.ObjectStore.Models;
using Nex.Protocol;

namespace Nex.Client;

/// <summary>An artifact stored in a JetStream object store.</summary>
/// <param name="Location">Where a node finds it: <c>nats://&lt;bucket&gt;/&lt;key&gt;</c>.</param>
/// <param name="Bucket">The object store bucket.</param>
/// <param name="Key">The object key.</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the bytes uploaded (what the node reports as the workload hash).</param>
/// <param name="Size">Bytes uploaded.</param>
public sealed record ArtifactUpload(WorkloadLocation Location, string Bucket, string Key, string Sha256, long Size);

/// <summary>
/// Uploads workload artifacts to a JetStream object store on the main NATS system, as <c>nex devrun</c>
/// does (spec §3.4): bucket <see cref="DevBucket"/>, created when missing, key = the file name without dots.
/// Content is streamed in chunks, never loaded whole, and hashed on the way.
/// </summary>
public sealed class ArtifactStore
{
    /// <summary>The developer-mode bucket.</summary>
    public const string DevBucket = "NEXCLIFILES";

    /// <summary>The description the developer-mode bucket is created with.</summary>
    public const string DevBucketDescription = "Ad hoc object storage for NEX CLI developer mode uploads";

    /// <summary>The developer-mode bucket's default size limit: 100 MiB.</summary>
    public const long DefaultMaxBytes = 100L * 1024 * 1024;

    private readonly NatsObjContext _objects;

    /// <summary>Creates a store client on <paramref name="connection"/> (the caller owns it).</summary>
    /// <param name="connection">A connection to the main NATS system.</param>
    /// <param name="jsDomain">JetStream domain; null or empty for the default domain.</param>
    /// <param name="requestTimeout">Timeout of each JetStream API call and chunk acknowledgement; the connection's request timeout when null (never below 5 s).</param>
    public ArtifactStore(INatsConnection connection, string? jsDomain = null, TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var timeout = requestTimeout ?? connection.Opts.RequestTimeout;
        if (timeout < TimeSpan.FromSeconds(5))
        {
            timeout = TimeSpan.FromSeconds(5);
        }

        var opts = new NatsJSOpts(connection.Opts with { RequestTimeout = timeout }, domain: string.IsNullOrEmpty(jsDomain) ? null : jsDomain);
        _objects = new NatsObjContext(new NatsJSContext(connection, opts));
    }

    /// <summary>
    /// The object key 0.2 derives from a file: its base name with every <c>.</c> removed
    /// (<c>echofunction.js</c> → <c>echofunctionjs</c>). It is also the workload name <c>nex devrun</c> uses.
    /// </summary>
    /// <param name="path">The file path.</param>
    /// <returns>The key; empty when the name is only dots.</returns>
    public static string KeyForFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Path.GetFileName(path).Replace(".", string.Empty, StringComparison.Ordinal);
    }

    /// <summary>
    /// Uploads a file to <see cref="DevBucket"/> under <see cref="KeyForFile"/>, creating the bucket when
    /// missing (file storage, <see cref="DevBucketDescription"/>, <paramref name="maxBytes"/>). An existing
    /// bucket is used as it is; an existing object with the key is replaced.
    /// </summary>
    /// <param name="path">The file to upload.</param>
    /// <param name="maxBytes">The size limit for a newly created bucket.</param>
    /// <param name="progress">Receives the running total of bytes read for sending.</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    /// <returns>The location, key, SHA-256 and size.</returns>
    /// <exception cref="NexClientException">The file cannot be read, or JetStream refused (one readable line).</exception>
    public async Task<ArtifactUpload> UploadFileAsync(string path, long maxBytes = DefaultMaxBytes, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var key = KeyForFile(path);
        if (key.Length == 0)
        {
            throw new NexClientException($"cannot derive an object key from the file name '{Path.GetFileName(path)}'");
        }

        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new NexClientException($"cannot read '{path}': {ex.Message}", ex);
        }

        await using (file.ConfigureAwait(false))
        {
            await EnsureBucketAsync(DevBucket, DevBucketDescription, maxBytes, cancellationToken).ConfigureAwait(false);
            return await PutAsync(DevBucket, key, file, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Uploads <paramref name="content"/> (read to its end, not disposed) to <paramref name="bucket"/> under
    /// <paramref name="key"/>. A missing bucket is created with default settings (file storage, no size limit).
    /// </summary>
    /// <param name="bucket">The object store bucket.</param>
    /// <param name="key">The object key.</param>
    /// <param name="content">The bytes.</param>
    /// <param name="progress">Receives the running total of bytes read for sending.</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    /// <returns>The location, key, SHA-256 and size.</returns>
    /// <exception cref="NexClientException">JetStream refused (one readable line).</exception>
    public async Task<ArtifactUpload> UploadAsync(string bucket, string key, Stream content, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(content);
        await EnsureBucketAsync(bucket, description: null, maxBytes: -1, cancellationToken).ConfigureAwait(false);
        return await PutAsync(bucket, key, content, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the bucket (file storage) unless it exists; an existing bucket is left unchanged.</summary>
    /// <param name="bucket">The bucket name.</param>
    /// <param name="description">The description for a new bucket.</param>
    /// <param name="maxBytes">The size limit for a new bucket; -1 or 0 for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the bucket exists.</returns>
    /// <exception cref="NexClientException">JetStream refused (one readable line).</exception>
    public async Task EnsureBucketAsync(string bucket, string? description, long maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        try
        {
            try
            {
                await _objects.GetObjectStoreAsync(bucket, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (IsMissingBucket(ex))
            {
                // Created below.
            }

            var config = new NatsObjConfig(bucket)
            {
                Description = description,
                MaxBytes = maxBytes > 0 ? maxBytes : -1,
                Storage = NatsObjStorageType.File,
            };
            try
            {
                await _objects.CreateObjectStoreAsync(config, cancellationToken).ConfigureAwait(false);
            }
            catch (NatsJSApiException) when (!cancellationToken.IsCancellationRequested)
            {
                // Someone else may have created it in the meantime (with other settings).
                if (!await ExistsAsync(bucket, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }
        catch (Exception ex) when (IsNatsFailure(ex))
        {
            throw Describe(ex, $"cannot open object store {bucket}");
        }
    }

    private async Task<bool> ExistsAsync(string bucket, CancellationToken cancellationToken)
    {
        try
        {
            await _objects.GetObjectStoreAsync(bucket, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsMissingBucket(ex))
        {
            return false;
        }
    }

    private async Task<ArtifactUpload> PutAsync(string bucket, string key, Stream content, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        using var counting = new HashingReadStream(content, progress);
        try
        {
            var store = await _objects.GetObjectStoreAsync(bucket, cancellationToken).ConfigureAwait(false);
            await store.PutAsync(new ObjectMetadata { Name = key }, counting, leaveOpen: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsNatsFailure(ex))
        {
            throw Describe(ex, $"cannot upload '{key}' to object store {bucket}");
        }

        return new ArtifactUpload(WorkloadLocation.ForObject(bucket, key), bucket, key, counting.HashHex(), counting.BytesRead);
    }

    private static bool IsMissingBucket(Exception ex) =>
        ex is NatsObjNotFoundException
        || (ex is NatsJSApiException api && (api.Error.Code == 404 || api.Error.ErrCode == 10059));

    private static bool IsNatsFailure(Exception ex) =>
        ex is NatsException or TimeoutException or NatsJSException or NatsObjException;

    private static NexClientException Describe(Exception ex, string what)
    {
        var reason = ex switch
        {
            NatsJSApiNoResponseException or NatsNoRespondersException => "JetStream is not enabled on this NATS system (no reply from its API)",
            NatsJSApiException api => api.Error.Description ?? api.Message,
            NatsNoReplyException or TimeoutException => "JetStream did not answer in time",
            _ => ex.Message,
        };
        return new NexClientException($"{what}: {reason}", ex);
    }
}
