using Nex.Node.Workloads;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>The trigger subject rule, without a node: system subjects never, whole-space wildcards only when allowed.</summary>
public sealed class DeployValidatorTests
{
    private static string Denied(string trigger) => $"The trigger subject {trigger} overlaps with subject(s) in this node's deny list";

    [Theory]
    [InlineData("$KV.>")]          // every other workload's KV writes
    [InlineData("$O.>")]
    [InlineData("$KV.hs_default_other_kv.key")]
    [InlineData("$SYS")]           // one token: did not collide with $SYS.>
    [InlineData("$G")]
    [InlineData("_INBOX.>")]       // other clients' replies
    [InlineData("_INBOX.abc")]
    [InlineData("_INBOX_custom.x")]
    [InlineData(">")]
    [InlineData("*.>")]
    [InlineData("$SYS.foo")]
    [InlineData("$NEX.x")]
    [InlineData("*.*")]            // two tokens or more after a wildcard: these overlap $SYS.> (as in 0.2)
    [InlineData("*.echo")]
    public void SystemSubjects_AreRefused_EvenWhenWildcardsAreAllowed(string trigger)
    {
        Assert.Equal(Denied(trigger), DeployValidator.TriggerProblem(trigger, [], allowWildcards: false));
        Assert.Equal(Denied(trigger), DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));
    }

    [Fact]
    public void AFirstTokenWildcard_IsRefused_UnlessTheNodeAllowsIt()
    {
        const string trigger = "*"; // answers every single-token service subject
        Assert.Equal(
            $"The trigger subject {trigger} starts with a wildcard and would take other workloads' subjects; this node does not allow wildcard triggers (allow_wildcard_triggers)",
            DeployValidator.TriggerProblem(trigger, [], allowWildcards: false));
        Assert.Null(DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));
    }

    [Theory]
    [InlineData("echo")]
    [InlineData("svc.echo.*")]
    [InlineData("svc.>")]
    [InlineData("KV.x")]
    [InlineData("INBOX.x")]
    [InlineData("a$b.c")]
    public void OrdinarySubjects_Pass(string trigger) => Assert.Null(DeployValidator.TriggerProblem(trigger, [], allowWildcards: false));

    [Fact]
    public void TheNodesDenyList_StillApplies()
    {
        Assert.Equal(Denied("secret.x"), DeployValidator.TriggerProblem("secret.x", ["secret.>"], allowWildcards: false));
        Assert.Null(DeployValidator.TriggerProblem("secret.x", [], allowWildcards: false)); // autostart passes []
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a b")]
    [InlineData(">.a")]
    public void InvalidSubjects_AreRefused(string trigger) =>
        Assert.Equal($"Invalid trigger subject: {trigger}", DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));

    [Fact]
    public void OverlongSubjects_AreRefusedInOneShortLine()
    {
        var trigger = "a." + new string('b', 4100);
        Assert.Equal($"Invalid trigger subject: {trigger[..64]}…(4102 characters)", DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));
    }
}
