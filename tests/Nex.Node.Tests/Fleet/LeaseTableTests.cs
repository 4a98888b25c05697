using Microsoft.Extensions.Time.Testing;
using Nex.Node.Fleet;
using Nex.Protocol;
using Xunit;

namespace Nex.Node.Tests.Fleet;

/// <summary>
/// Liveness by this node's own clock: seen within the grace is alive; silence or absence for a grace is dead, but
/// only silence heard while this node hears its own renewals.
/// </summary>
public sealed class LeaseTableTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly LeaseTable _table;

    public LeaseTableTests() => _table = new LeaseTable("NSELF", _time, Grace);

    [Fact]
    public void NodeSeen_IsAlive_UntilSilentForTheGrace()
    {
        _table.Restart();
        _table.Observe(new NodeLease { NodeId = "NX" });
        AdvanceHearingSelf(Grace - TimeSpan.FromMilliseconds(1));
        Assert.True(_table.IsAlive("NX"));
        _table.Observe(new NodeLease { NodeId = "NX" }); // renewed
        AdvanceHearingSelf(Grace - TimeSpan.FromMilliseconds(1));
        Assert.True(_table.IsAlive("NX"));
        AdvanceHearingSelf(TimeSpan.FromMilliseconds(1));
        Assert.False(_table.IsAlive("NX"));
        Assert.Empty(_table.AliveOthers());
    }

    [Fact]
    public void NodeNeverSeen_IsDead_OnceThisNodeWatchedForAFullGrace()
    {
        Assert.True(_table.IsAlive("NY")); // not watching yet: not judged
        _table.Restart();
        AdvanceHearingSelf(Grace - TimeSpan.FromMilliseconds(1));
        Assert.True(_table.IsAlive("NY"));
        AdvanceHearingSelf(TimeSpan.FromMilliseconds(1));
        Assert.False(_table.IsAlive("NY"));
    }

    [Fact]
    public void NodeWhoseLeaseIsGone_IsDead_AfterAFullGraceOfWatching()
    {
        _table.Restart();
        _table.Observe(new NodeLease { NodeId = "NX" });
        AdvanceHearingSelf(Grace);
        _table.Observe(new NodeLease { NodeId = "NX" });
        _table.Remove("NX");
        Assert.False(_table.IsAlive("NX"));
    }

    [Fact]
    public void Self_IsAlwaysAlive()
    {
        _table.Restart();
        _time.Advance(Grace * 100);
        Assert.True(_table.IsAlive("NSELF"));
    }

    [Fact]
    public void Restart_AfterADisconnect_GivesEveryKnownNodeAFreshGrace()
    {
        _table.Restart();
        _table.Observe(new NodeLease { NodeId = "NX", LameDuck = true });
        AdvanceHearingSelf(Grace * 3);
        Assert.False(_table.IsAlive("NX"));
        _table.Restart();
        Assert.True(_table.IsAlive("NX"));
        Assert.True(_table.IsAlive("NNEVER"));
        Assert.True(Assert.Single(_table.AliveOthers()).LameDuck);
        AdvanceHearingSelf(Grace);
        Assert.False(_table.IsAlive("NX"));
        Assert.False(_table.IsAlive("NNEVER"));
    }

    [Fact]
    public void WhileThisNodeDoesNotHearItself_NobodyIsJudgedDead()
    {
        // A watch that stalls (as one can for a while after a partition heals) brings neither the others' renewals
        // nor this node's own: their silence is not theirs.
        _table.Restart();
        _table.Observe(new NodeLease { NodeId = "NX" });
        _table.Observe(new NodeLease { NodeId = "NSELF" });
        _time.Advance(Grace * 3);
        Assert.True(_table.IsAlive("NX"));
        Assert.True(_table.IsAlive("NNEVER"));
        Assert.Single(_table.AliveOthers());

        // Heard again, with nothing from the other for all that time: now it is dead.
        _table.Observe(new NodeLease { NodeId = "NSELF" });
        Assert.False(_table.IsAlive("NX"));
        Assert.False(_table.IsAlive("NNEVER"));
    }

    [Fact]
    public void AliveOthers_LeavesOutSelf()
    {
        _table.Restart();
        _table.Observe(new NodeLease { NodeId = "NSELF" });
        _table.Observe(new NodeLease { NodeId = "NX" });
        Assert.Equal(["NX"], _table.AliveOthers().Select(l => l.NodeId));
    }

    // Time passes while the watch brings this node's own renewal: it can hear.
    private void AdvanceHearingSelf(TimeSpan by)
    {
        _time.Advance(by);
        _table.Observe(new NodeLease { NodeId = "NSELF" });
    }
}
