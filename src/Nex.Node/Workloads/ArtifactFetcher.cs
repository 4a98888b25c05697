using System.Security.Cryptography;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>A downloaded workload artifact.</summary>
internal sealed record Artifact(byte[] Bytes, string Sha256);

/// <summary>
/// Reads workload artifacts from the JetStream object store on the main NATS system (spec §3.1–3.2)
/// with the node's own connection. Sizes are checked against the node limits before the download.
/// </summary>
internal sealed class ArtifactFetcher(INatsConnection mainNats)
{
    /// <summary>Object size as the store reports it; errors are the sentence after "Failed to cache workload bytes: ".</summary>
    public async Task<(INatsObjStore Store, long Size)> LocateAsync(WorkloadLocation location, string? jsDomain, CancellationToken cancellationToken)
    {
        var js = string.IsNullOrEmpty(jsDomain)
            ? new NatsJSContext((NatsConnection)mainNats)
            : new NatsJSContext((NatsConnection)mainNats, new NatsJSOpts(((NatsConnection)mainNats).Opts, domain: jsDomain));
        INatsObjStore store;
        try
        {
            store = await new NatsObjContext(js).GetObjectStoreAsync(location.Bucket, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            throw new ArtifactException($"object store bucket '{location.Bucket}' not found");
        }
        catch (NatsNoRespondersException)
        {
            throw new ArtifactException($"JetStream is not available{(string.IsNullOrEmpty(jsDomain) ? "" : $" in domain '{jsDomain}'")}; cannot read bucket '{location.Bucket}'");
        }

        try
        {
            var info = await store.GetInfoAsync(location.Key, cancellationToken: cancellationToken).ConfigureAwait(false);
            return (store, (long)info.Size);
        }
        catch (NatsObjNotFoundException)
        {
            throw new ArtifactException($"object '{location.Key}' not found in bucket '{location.Bucket}'");
        }
    }

    public static async Task<Artifact> DownloadAsync(INatsObjStore store, string key, CancellationToken cancellationToken)
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
}

/// <summary>The artifact cannot be had; the message follows "Failed to cache workload bytes: ".</summary>
internal sealed class ArtifactException(string message) : Exception(message);
