using System.Globalization;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Agent;

/// <summary>
/// Copies the workload artifact to <c>$TMPDIR/workload-&lt;id&gt;</c> (mode 0700), downloaded in chunks
/// from the node on <c>hostint.&lt;id&gt;.artifact</c> (<see cref="AgentSubjects.Artifact"/>). There is no
/// other source: 0.2's per-account JetStream object store <c>NEXCACHE</c> is gone (the node's internal
/// NATS server has no JetStream), so a node that does not serve the subject fails the fetch.
/// </summary>
internal static class ArtifactFetcher
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private static readonly TimeSpan ChunkTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Where the artifact of <paramref name="agentId"/> goes.</summary>
    /// <param name="agentId">The agent id.</param>
    /// <returns>The path.</returns>
    public static string PathFor(string agentId) => Path.Combine(Path.GetTempPath(), $"workload-{agentId}");

    /// <summary>Fetches the artifact; on failure nothing is left behind.</summary>
    /// <param name="connection">The node connection.</param>
    /// <param name="agentId">The agent id.</param>
    /// <param name="cancellationToken">Cancels the fetch.</param>
    /// <returns>The artifact path.</returns>
    public static Task<string> FetchAsync(INatsConnection connection, string agentId, CancellationToken cancellationToken) =>
        SaveAsync(agentId, file => DownloadFromNodeAsync(connection, agentId, file, cancellationToken), cancellationToken);

    /// <summary>Writes an artifact the node sent inside the deploy request.</summary>
    /// <param name="agentId">This agent's id.</param>
    /// <param name="bytes">The artifact.</param>
    /// <param name="expectedSize">The request's <c>total_bytes</c>, which must match.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The artifact's path.</returns>
    /// <exception cref="InvalidDataException">The size does not match.</exception>
    public static Task<string> WriteAsync(string agentId, byte[] bytes, long expectedSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.LongLength != expectedSize)
        {
            throw new InvalidDataException($"the deploy request carries {bytes.LongLength} artifact bytes but announces {expectedSize}");
        }

        return SaveAsync(agentId, file => file.WriteAsync(bytes, cancellationToken).AsTask(), cancellationToken);
    }

    private static async Task<string> SaveAsync(string agentId, Func<Stream, Task> write, CancellationToken cancellationToken)
    {
        var path = PathFor(agentId);
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = OwnerOnly,
            };

            // The stream is closed before anything executes the file (else: "text file busy").
            var file = new FileStream(path, options);
            await using (file.ConfigureAwait(false))
            {
                await write(file).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            File.SetUnixFileMode(path, OwnerOnly);
            return path;
        }
        catch
        {
            Delete(path);
            throw;
        }
    }

    /// <summary>Removes an artifact; a missing file is fine.</summary>
    /// <param name="path">The artifact path.</param>
    public static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: $TMPDIR is the sandbox's own.
        }
    }

    // Request chunk after chunk (header x-nex-offset) until the size the node announces (x-nex-size)
    // is written. An IOException when nothing serves the subject, or the node refuses (x-nex-error).
    private static async Task DownloadFromNodeAsync(INatsConnection connection, string agentId, Stream file, CancellationToken cancellationToken)
    {
        var subject = AgentSubjects.Artifact(agentId);
        long offset = 0;
        long? size = null;
        while (size is null || offset < size)
        {
            var headers = new NatsHeaders { [AgentSubjects.ArtifactOffsetHeader] = offset.ToString(CultureInfo.InvariantCulture) };
            NatsMsg<byte[]> reply;
            try
            {
                reply = await connection.RequestAsync<byte[], byte[]>(subject, [], headers, replyOpts: new NatsSubOpts { Timeout = ChunkTimeout }, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (NatsNoRespondersException ex) when (size is null)
            {
                throw NotServed(subject, ex);
            }

            if (reply.HasNoResponders)
            {
                throw size is null ? NotServed(subject, null) : new IOException($"the node stopped serving the artifact at byte {offset}");
            }

            if (reply.Headers is { } replyHeaders && replyHeaders.TryGetValue(AgentSubjects.ArtifactErrorHeader, out var error))
            {
                throw new IOException(error.ToString());
            }

            if (reply.Headers is null
                || !reply.Headers.TryGetValue(AgentSubjects.ArtifactSizeHeader, out var sizeText)
                || !long.TryParse(sizeText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var announced))
            {
                throw new InvalidDataException($"the node's artifact reply has no valid {AgentSubjects.ArtifactSizeHeader} header");
            }

            if (size is { } known && known != announced)
            {
                throw new InvalidDataException($"the artifact changed size during the download ({known} then {announced} bytes)");
            }

            size = announced;
            var chunk = reply.Data ?? [];
            if (chunk.Length == 0 && offset < announced)
            {
                throw new InvalidDataException($"the node sent no bytes at offset {offset} of {announced}");
            }

            if (offset + chunk.Length > announced)
            {
                throw new InvalidDataException($"the node sent more than the {announced} bytes it announced");
            }

            await file.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            offset += chunk.Length;
        }
    }

    private static IOException NotServed(string subject, Exception? inner) =>
        new($"the node does not serve the artifact (no responders on {subject})", inner);
}
