using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Nex.Node.Fleet;

/// <summary>
/// The order in which live nodes claim an orphaned workload, the same on every node that sees the same leases:
/// nodes that run no copy of the same <c>&lt;namespace, name&gt;</c> first (so replicas spread), then by a
/// rendezvous hash of (key, node id) (so the orphans of a dead node spread over the survivors, and a node's
/// arrival or departure moves only the orphans it ranks first for). Ties (never, in practice) by node id.
/// </summary>
internal static class ClaimOrder
{
    /// <summary>The candidates, best first.</summary>
    /// <param name="key">The record's key.</param>
    /// <param name="candidates">Live node ids that may claim (not lame duck).</param>
    /// <param name="runsCopy">True for a node that already runs a copy of the same namespace and name.</param>
    public static List<string> Rank(string key, IEnumerable<string> candidates, Func<string, bool> runsCopy)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(runsCopy);
        return candidates
            .Distinct(StringComparer.Ordinal)
            .OrderBy(runsCopy)
            .ThenByDescending(node => Score(key, node))
            .ThenBy(node => node, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The rendezvous score of <paramref name="node"/> for <paramref name="key"/>: the first 8 bytes of
    /// SHA-256(key NUL node), stable across processes and versions (unlike <see cref="string.GetHashCode()"/>).</summary>
    public static ulong Score(string key, string node)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(key + "\0" + node), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}
