using Nex.Protocol;

namespace Nex.Client;

/// <summary>
/// Where <c>run</c> and <c>devrun</c> put a workload when no node is named: the AUCTION bid with the best
/// <see cref="Score"/>, equal best bids drawn at random so equal nodes fill evenly (as Kubernetes' scheduler
/// sums weighted 0–100 scores and breaks ties at random).
/// </summary>
public static class Placement
{
    /// <summary>The score of a 0.2 node's bid, which says nothing about its capacity.</summary>
    public const double Neutral = 50;

    /// <summary>
    /// The score of a node that would refuse the deploy (lame duck, failing agent starts, at its workload
    /// limit, unhealthy): below every other bid, so it is only taken when nothing else bids, and the user then
    /// gets the node's own error.
    /// </summary>
    public const double Refusing = -1;

    /// <summary>Below this share of its memory available a node scores less for memory; above it, all the same.</summary>
    public const double MemoryComfort = 0.25;

    private const double LoadWeight = 70, MemoryWeight = 30;

    /// <summary>
    /// A bid's score, 0–100 (higher is better): <c>70·load + 30·memory</c>, where load is the share of free
    /// workload slots (<c>(max − running) / max</c>) or, without a limit, <c>1 / (1 + running / cpu_count)</c>,
    /// and memory is <c>available / total</c> over <see cref="MemoryComfort"/>, at most 1 (unknown: ½). A bid
    /// without <c>capacity</c> (a 0.2 node) scores <see cref="Neutral"/>; a node that would refuse scores
    /// <see cref="Refusing"/>. Warm agents are no part of it: a pool refills within a second, so they only
    /// break ties (<see cref="Choose"/>).
    /// </summary>
    /// <param name="bid">An AUCTION bid.</param>
    /// <returns>The score.</returns>
    public static double Score(PingResponse bid)
    {
        ArgumentNullException.ThrowIfNull(bid);
        if (!string.IsNullOrEmpty(bid.Unhealthy)
            || (bid.Tags?.TryGetValue(NexTags.LameDuck, out var lameDuck) == true && lameDuck == "true"))
        {
            return Refusing;
        }

        if (bid.Capacity is not { } capacity)
        {
            return Neutral;
        }

        var running = Math.Max(bid.RunningMachines, 0);
        if (capacity.LameDuck || !string.IsNullOrEmpty(capacity.AgentStartFailure)
            || (capacity.MaxWorkloads > 0 && running >= capacity.MaxWorkloads))
        {
            return Refusing;
        }

        var load = capacity.MaxWorkloads > 0
            ? (capacity.MaxWorkloads - running) / (double)capacity.MaxWorkloads
            : 1 / (1 + (running / (double)Math.Max(capacity.CpuCount, 1)));
        var memory = capacity is { MemoryTotalKb: > 0 and var total, MemoryAvailableKb: >= 0 and var available }
            ? Math.Min(1, available / (double)total / MemoryComfort)
            : 0.5;
        return (LoadWeight * load) + (MemoryWeight * memory);
    }

    /// <summary>
    /// The bid with the best <see cref="Score"/>; among equal best, one with a warm agent (then one that does
    /// not say, then one without), and among those one at random.
    /// </summary>
    /// <param name="bids">The bids (at least one).</param>
    /// <param name="random">Breaks ties; <see cref="Random.Shared"/> when null.</param>
    /// <returns>The chosen bid.</returns>
    /// <exception cref="ArgumentException"><paramref name="bids"/> is empty.</exception>
    public static PingResponse Choose(IReadOnlyList<PingResponse> bids, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(bids);
        if (bids.Count == 0)
        {
            throw new ArgumentException("no bids to choose from", nameof(bids));
        }

        var scores = bids.Select(Score).ToArray();
        var best = scores.Max();

        // Scores are sums of fractions: equal inputs give equal doubles, and a hair's difference is no preference.
        var top = bids.Where((_, i) => best - scores[i] < 1e-9).ToList();
        var warmest = top.Max(Warmth);
        top = [.. top.Where(b => Warmth(b) == warmest)];
        return top.Count == 1 ? top[0] : top[(random ?? Random.Shared).Next(top.Count)];
    }

    /// <summary>
    /// Where <paramref name="replicas"/> copies of one workload go (<c>--replicas</c>): the bids ranked as
    /// <see cref="Choose"/> ranks them (score, then a warm agent, then at random), each copy on the next node of
    /// that list, and round it again when fewer nodes bid than copies (3 copies on 2 nodes land 2 + 1, the
    /// better node taking the extra one). Nodes that would refuse are used only when no other node bids.
    /// </summary>
    /// <param name="bids">The bids (at least one).</param>
    /// <param name="replicas">How many copies (at least one).</param>
    /// <param name="random">Breaks ties; <see cref="Random.Shared"/> when null.</param>
    /// <returns>One bid per copy, the first the one <see cref="Choose"/> would take.</returns>
    /// <exception cref="ArgumentException"><paramref name="bids"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="replicas"/> is below one.</exception>
    public static IReadOnlyList<PingResponse> Spread(IReadOnlyList<PingResponse> bids, int replicas, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(bids);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        var ranked = Rank(bids, random ?? Random.Shared);
        var willing = ranked.Where(b => Score(b) > Refusing).ToList();
        if (willing.Count > 0)
        {
            ranked = willing;
        }

        return [.. Enumerable.Range(0, replicas).Select(i => ranked[i % ranked.Count])];
    }

    /// <summary>Best first: score, then warmth, then a random draw among equals; one bid per node.</summary>
    private static List<PingResponse> Rank(IReadOnlyList<PingResponse> bids, Random random)
    {
        if (bids.Count == 0)
        {
            throw new ArgumentException("no bids to choose from", nameof(bids));
        }

        // Equal scores within a hair are equal (as in Choose): round to 1e-9 before comparing.
        return [.. bids
            .DistinctBy(b => b.NodeId, StringComparer.Ordinal)
            .Select(b => (Bid: b, Score: Math.Round(Score(b), 9), Warmth: Warmth(b), Draw: random.Next()))
            .OrderByDescending(x => x.Score)
            .ThenByDescending(x => x.Warmth)
            .ThenBy(x => x.Draw)
            .Select(x => x.Bid)];
    }

    private static int Warmth(PingResponse bid) => bid.Capacity?.WarmAgents switch
    {
        null => 1,
        > 0 => 2,
        _ => 0,
    };
}
