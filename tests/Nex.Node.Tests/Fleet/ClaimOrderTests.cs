using Nex.Node.Fleet;
using Xunit;

namespace Nex.Node.Tests.Fleet;

/// <summary>The order in which live nodes claim an orphan: the same everywhere, spreading replicas and orphans.</summary>
public sealed class ClaimOrderTests
{
    private static readonly string[] Nodes = ["NAAA", "NBBB", "NCCC", "NDDD"];

    [Fact]
    public void Rank_IsTheSame_WhateverOrderTheCandidatesComeIn()
    {
        var first = ClaimOrder.Rank("default.k1", Nodes, _ => false);
        var shuffled = ClaimOrder.Rank("default.k1", Nodes.Reverse(), _ => false);
        Assert.Equal(first, shuffled);
        Assert.Equal(Nodes.Order(StringComparer.Ordinal), first.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Rank_PutsNodesWithoutACopyFirst()
    {
        var withoutCopy = new HashSet<string> { "NCCC" };
        var order = ClaimOrder.Rank("default.k1", Nodes, node => !withoutCopy.Contains(node));
        Assert.Equal("NCCC", order[0]);
    }

    [Fact]
    public void Rank_WithinEachGroup_FollowsTheRendezvousScore()
    {
        var order = ClaimOrder.Rank("ns.key", Nodes, _ => false);
        var scores = order.Select(n => ClaimOrder.Score("ns.key", n)).ToList();
        Assert.Equal(scores.OrderDescending(), scores);
    }

    [Fact]
    public void Rank_SpreadsTheOrphansOfOneNode_OverTheSurvivors()
    {
        var firsts = Enumerable.Range(0, 300).Select(i => ClaimOrder.Rank($"default.w{i}", Nodes, _ => false)[0]).GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Nodes.Length, firsts.Count);
        Assert.All(firsts.Values, count => Assert.InRange(count, 40, 110)); // 75 each on average
    }

    [Fact]
    public void Rank_ALeavingNode_MovesOnlyTheOrphansItRankedFirst()
    {
        var keys = Enumerable.Range(0, 200).Select(i => $"default.w{i}").ToList();
        var before = keys.ToDictionary(k => k, k => ClaimOrder.Rank(k, Nodes, _ => false)[0]);
        var after = keys.ToDictionary(k => k, k => ClaimOrder.Rank(k, Nodes.Where(n => n != "NBBB"), _ => false)[0]);
        Assert.All(keys.Where(k => before[k] != "NBBB"), k => Assert.Equal(before[k], after[k]));
    }

    [Fact]
    public void Rank_OfNoCandidates_IsEmpty_AndDuplicatesCountOnce()
    {
        Assert.Empty(ClaimOrder.Rank("k", [], _ => false));
        Assert.Equal(2, ClaimOrder.Rank("k", ["NA", "NB", "NA"], _ => false).Count);
    }

    [Fact]
    public void Score_IsStable_AcrossProcesses()
    {
        // SHA-256 of "k\0N": a fixed number, unlike string.GetHashCode which is randomised per process.
        Assert.Equal(ClaimOrder.Score("k", "N"), ClaimOrder.Score("k", "N"));
        Assert.NotEqual(ClaimOrder.Score("k", "N1"), ClaimOrder.Score("k", "N2"));
        Assert.Equal(0x3e77d00f914acf56UL, ClaimOrder.Score("default.key", "NODE")); // printf 'default.key\0NODE' | sha256sum
    }
}
