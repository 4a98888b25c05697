using Nex.Protocol;

namespace Nex.Node.ControlApi;

/// <summary>Whether a node takes part in an auction (spec §1.5). A node is out if any rule fails.</summary>
internal static class AuctionMatcher
{
    public static bool Matches(AuctionRequest? request, IReadOnlyDictionary<string, string> tags, bool noSandbox, IReadOnlyList<string> workloadTypes)
    {
        if (request is null)
        {
            return true;
        }

        if (request.Arch is { Length: > 0 } arch && !TagEquals(tags, "nex.arch", arch))
        {
            return false;
        }

        if (request.Os is { Length: > 0 } os && !TagEquals(tags, "nex.os", os))
        {
            return false;
        }

        if (request.Sandboxed is { } sandboxed && noSandbox != !sandboxed)
        {
            return false;
        }

        if (request.Tags is { } wanted && wanted.Any(t => !TagEquals(tags, t.Key, t.Value)))
        {
            return false;
        }

        return request.WorkloadTypes is not { } types || types.All(t => workloadTypes.Contains(t, StringComparer.Ordinal));
    }

    private static bool TagEquals(IReadOnlyDictionary<string, string> tags, string key, string value) =>
        tags.TryGetValue(key, out var actual) && string.Equals(actual, value, StringComparison.OrdinalIgnoreCase);
}
