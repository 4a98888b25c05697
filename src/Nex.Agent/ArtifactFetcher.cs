using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;

namespace Nex.Agent;

/// <summary>
/// Copies the workload artifact, object <c>workload</c> of the object store <c>NEXCACHE</c> in the
/// agent's own account (spec §3.3), to <c>$TMPDIR/workload-&lt;id&gt;</c> with mode 0700.
/// </summary>
internal static class ArtifactFetcher
{
    /// <summary>The node's per-account artifact cache.</summary>
    public const string Bucket = "NEXCACHE";

    /// <summary>The object holding the artifact.</summary>
    public const string ObjectName = "workload";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Where the artifact of <paramref name="agentId"/> goes.</summary>
    /// <param name="agentId">The agent id.</param>
    /// <returns>The path.</returns>
    public static string PathFor(string agentId) => Path.Combine(Path.GetTempPath(), $"workload-{agentId}");

    /// <summary>Fetches the artifact; on failure nothing is left behind.</summary>
    /// <param name="connection">The node connection.</param>
    /// <param name="agentId">The agent id.</param>
    /// <param name="cancellationToken">Cancels the fetch.</param>
    /// <returns>The artifact path.</returns>
    public static async Task<string> FetchAsync(INatsConnection connection, string agentId, CancellationToken cancellationToken)
    {
        var path = PathFor(agentId);
        try
        {
            var store = await new NatsObjContext(new NatsJSContext(connection)).GetObjectStoreAsync(Bucket, cancellationToken).ConfigureAwait(false);
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
                await store.GetAsync(ObjectName, file, leaveOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
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
}
