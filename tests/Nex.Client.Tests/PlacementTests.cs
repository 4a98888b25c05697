using Nex.Protocol;
using Xunit;

namespace Nex.Client.Tests;

/// <summary><see cref="Placement"/>: the score a bid gets and which bid wins (pure; no NATS).</summary>
public sealed class PlacementTests
{
    private const long Gib = 1024 * 1024;

    private static PingResponse Bid(string id, int running = 0, AuctionCapacity? capacity = null, IReadOnlyDictionary<string, string>? tags = null, string? unhealthy = null) =>
        new() { NodeId = id, RunningMachines = running, Capacity = capacity, Tags = tags, Unhealthy = unhealthy };

    private static AuctionCapacity Roomy(int maxWorkloads = 0, int? warm = 1) =>
        new() { MaxWorkloads = maxWorkloads, MemoryTotalKb = 16 * Gib, MemoryAvailableKb = 12 * Gib, CpuCount = 4, WarmAgents = warm };

    [Fact]
    public void Score_A02BidWithoutCapacity_IsNeutral() =>
        Assert.Equal(Placement.Neutral, Placement.Score(Bid("N02", running: 3)));

    [Fact]
    public void Score_AnEmptyRoomyNode_Is100_AndBeatsA02Node()
    {
        Assert.Equal(100, Placement.Score(Bid("N", capacity: Roomy())), 6);
        Assert.Equal("NNEW", Placement.Choose([Bid("N02"), Bid("NNEW", capacity: Roomy())]).NodeId);
    }

    [Fact]
    public void Score_FewerRunningWorkloads_ScoresHigher_WithAndWithoutALimit()
    {
        for (var running = 0; running < 40; running++)
        {
            Assert.True(Placement.Score(Bid("N", running, Roomy())) > Placement.Score(Bid("N", running + 1, Roomy())), $"no limit, {running}");
        }

        for (var running = 0; running < 9; running++)
        {
            Assert.True(Placement.Score(Bid("N", running, Roomy(maxWorkloads: 10))) > Placement.Score(Bid("N", running + 1, Roomy(maxWorkloads: 10))), $"limit 10, {running}");
        }
    }

    [Fact]
    public void Score_Load_IsRelativeToTheLimit_OrToTheCpus()
    {
        // 5 of 10 slots taken is as loaded as 50 of 100.
        Assert.Equal(Placement.Score(Bid("A", 5, Roomy(maxWorkloads: 10))), Placement.Score(Bid("B", 50, Roomy(maxWorkloads: 100))), 9);

        // Without a limit, 4 workloads on 8 CPUs are a lighter load than 2 on 2.
        var big = Roomy() with { CpuCount = 8 };
        var small = Roomy() with { CpuCount = 2 };
        Assert.True(Placement.Score(Bid("BIG", 4, big)) > Placement.Score(Bid("SMALL", 2, small)));
    }

    [Fact]
    public void Score_Memory_CountsOnlyBelowTheComfortShare()
    {
        var half = Roomy() with { MemoryAvailableKb = 8 * Gib };
        var quarter = Roomy() with { MemoryAvailableKb = 4 * Gib };
        var tight = Roomy() with { MemoryAvailableKb = 1 * Gib };
        Assert.Equal(Placement.Score(Bid("A", capacity: half)), Placement.Score(Bid("B", capacity: quarter)), 9);
        Assert.True(Placement.Score(Bid("B", capacity: quarter)) > Placement.Score(Bid("C", capacity: tight)));
    }

    [Fact]
    public void Choose_AmongEqualScores_PrefersAWarmAgent_ButNeverOverAWorkloadLess()
    {
        var warm = Bid("WARM", capacity: Roomy(warm: 2));
        var unknown = Bid("UNKNOWN", capacity: Roomy(warm: null));
        var cold = Bid("COLD", capacity: Roomy(warm: 0));
        Assert.Equal(Placement.Score(warm), Placement.Score(cold), 9);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("WARM", Placement.Choose([cold, unknown, warm]).NodeId);
            Assert.Equal("UNKNOWN", Placement.Choose([cold, unknown]).NodeId);
        }

        // A node that just took a deploy is cold until its pool refills: it still wins over a busier warm one.
        Assert.Equal("JUSTUSED", Placement.Choose([Bid("JUSTUSED", 1, Roomy(warm: 0)), Bid("BUSIER", 2, Roomy(warm: 1))]).NodeId);
    }

    [Fact]
    public void Score_ANodeThatWouldRefuse_RanksBelowEveryOther()
    {
        var busy = Bid("BUSY", 500, Roomy() with { MemoryAvailableKb = 0, WarmAgents = 0 });
        Assert.True(Placement.Score(busy) > Placement.Refusing);
        Assert.Equal(Placement.Refusing, Placement.Score(Bid("LD", capacity: Roomy() with { LameDuck = true })));
        Assert.Equal(Placement.Refusing, Placement.Score(Bid("LD02", tags: new Dictionary<string, string> { [NexTags.LameDuck] = "true" })));
        Assert.Equal(Placement.Refusing, Placement.Score(Bid("FAIL", capacity: Roomy() with { AgentStartFailure = "exec format error" })));
        Assert.Equal(Placement.Refusing, Placement.Score(Bid("FULL", 3, Roomy(maxWorkloads: 3))));
        Assert.Equal(Placement.Refusing, Placement.Score(Bid("SICK", capacity: Roomy(), unhealthy: "internal NATS server down")));
    }

    [Fact]
    public void Choose_ANodeThatWouldRefuse_IsTakenOnlyWhenAlone()
    {
        var full = Bid("FULL", 3, Roomy(maxWorkloads: 3));
        Assert.Equal("OTHER", Placement.Choose([full, Bid("OTHER", 9, Roomy() with { WarmAgents = 0 })]).NodeId);
        Assert.Equal("FULL", Placement.Choose([full]).NodeId); // the deploy then reports the node's own error
    }

    [Fact]
    public void Choose_EqualBids_AreDrawnAtRandom()
    {
        var bids = new[] { Bid("A", capacity: Roomy()), Bid("B", capacity: Roomy()), Bid("C", capacity: Roomy()) };
        var random = new Random(17);
        var picked = Enumerable.Range(0, 300).Select(_ => Placement.Choose(bids, random).NodeId).CountBy(id => id).ToDictionary();
        Assert.Equal(3, picked.Count);
        Assert.All(picked.Values, n => Assert.InRange(n, 70, 130));
    }

    [Fact]
    public void Choose_NoBids_IsAnArgumentError() =>
        Assert.Throws<ArgumentException>(() => Placement.Choose([]));

    [Theory]
    [InlineData(6, 3)]
    [InlineData(30, 3)]
    [InlineData(31, 4)]
    public void Choose_DeploysOneAfterAnother_OverEqualNodes_DifferByAtMostOne(int deploys, int nodes)
    {
        var running = new int[nodes];
        var random = new Random(5);
        var last = -1; // the node that took the previous deploy has not refilled its warm pool yet
        for (var i = 0; i < deploys; i++)
        {
            var bids = Enumerable.Range(0, nodes).Select(n => Bid(n.ToString(System.Globalization.CultureInfo.InvariantCulture), running[n], Roomy(warm: n == last ? 0 : 1))).ToList();
            last = int.Parse(Placement.Choose(bids, random).NodeId, System.Globalization.CultureInfo.InvariantCulture);
            running[last]++;
        }

        Assert.True(running.Max() - running.Min() <= 1, string.Join("/", running));
    }

    [Fact]
    public void Spread_NCopiesOnMNodes_DistinctWhileThereAreEnough_BestFirst()
    {
        var bids = new[] { Bid("BUSY", 4, Roomy()), Bid("IDLE", 0, Roomy()), Bid("SOME", 2, Roomy()) };
        Assert.Equal(["IDLE", "SOME", "BUSY"], Placement.Spread(bids, 3).Select(b => b.NodeId));
        Assert.Equal(["IDLE", "SOME"], Placement.Spread(bids, 2).Select(b => b.NodeId));
        Assert.Equal(Placement.Choose(bids).NodeId, Assert.Single(Placement.Spread(bids, 1)).NodeId);
    }

    [Fact]
    public void Spread_MoreCopiesThanNodes_GoesRoundTheRankedListAgain()
    {
        var bids = new[] { Bid("B", 1, Roomy()), Bid("A", 0, Roomy()) };
        Assert.Equal(["A", "B", "A"], Placement.Spread(bids, 3).Select(b => b.NodeId)); // 2 + 1, the better node taking the extra
        var seven = Placement.Spread([Bid("X", capacity: Roomy()), Bid("Y", capacity: Roomy()), Bid("Z", capacity: Roomy())], 7, new Random(3));
        Assert.Equal([3, 2, 2], seven.CountBy(b => b.NodeId).Select(p => p.Value).OrderDescending());
        Assert.All(Placement.Spread([Bid("ONLY", capacity: Roomy())], 4), b => Assert.Equal("ONLY", b.NodeId));
    }

    [Fact]
    public void Spread_RefusingNodes_OnlyWhenNoOtherBids_AndEachNodeOnce()
    {
        var lameDuck = Bid("LAME", capacity: Roomy() with { LameDuck = true });
        var full = Bid("FULL", 2, Roomy(maxWorkloads: 2));
        var ok = Bid("OK", 9, Roomy());
        Assert.All(Placement.Spread([lameDuck, ok, full], 3), b => Assert.Equal("OK", b.NodeId));
        Assert.Equal(2, Placement.Spread([lameDuck, full], 2).Select(b => b.NodeId).Distinct().Count()); // the user gets their errors

        // A node that answered twice (two routes) is one node.
        Assert.Equal(["OK", "OK", "OK"], Placement.Spread([ok, ok, lameDuck], 3).Select(b => b.NodeId));
        Assert.Equal(["OK", "OK"], Placement.Spread([ok, ok], 2).Select(b => b.NodeId));
    }

    [Fact]
    public void Spread_EqualNodes_TiesDrawnAtRandom_PreferringWarmAgents()
    {
        var bids = new[] { Bid("COLD", capacity: Roomy(warm: 0)), Bid("W1", capacity: Roomy(warm: 1)), Bid("W2", capacity: Roomy(warm: 1)) };
        var random = new Random(11);
        var firsts = Enumerable.Range(0, 200).Select(_ => Placement.Spread(bids, 3, random)).ToList();
        Assert.All(firsts, s => Assert.Equal("COLD", s[2].NodeId));
        Assert.InRange(firsts.Count(s => s[0].NodeId == "W1"), 60, 140);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Spread_BadReplicaCounts_AreArgumentErrors(int replicas)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Placement.Spread([Bid("A")], replicas));
        Assert.Throws<ArgumentException>(() => Placement.Spread([], 1));
    }
}
