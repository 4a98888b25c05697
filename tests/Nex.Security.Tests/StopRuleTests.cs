using Xunit;

namespace Nex.Security.Tests;

public class StopRuleTests
{
    private static readonly NATS.NKeys.KeyPair Issuer = NexKeys.CreateAccount();
    private static readonly DateTimeOffset Deployed = DateTimeOffset.FromUnixTimeSeconds(1_750_000_000).AddMilliseconds(100);

    private static WorkloadClaims Deploy() =>
        WorkloadJwt.Validate(WorkloadJwt.Issue(Issuer, "echoservice", WorkloadJwt.PlaceholderHash, Deployed), Deployed);

    private static WorkloadClaims Stop(NATS.NKeys.KeyPair issuer, string name, DateTimeOffset at) =>
        WorkloadJwt.Decode(WorkloadJwt.Issue(issuer, name, null, at));

    [Fact]
    public void SameIssuerSameName_OneSecondLater_Passes() =>
        Assert.Null(StopRule.Check(Deploy(), Stop(Issuer, "echoservice", Deployed.AddSeconds(1))));

    [Fact]
    public void SignedInTheSameSecond_IsRejected()
    {
        // Different jti (no hash in a stop token), but the same iat.
        var stop = Stop(Issuer, "echoservice", Deployed.AddMilliseconds(800));
        Assert.NotEqual(Deploy().Jti, stop.Jti);
        Assert.Equal(StopRule.ClonedClaims, StopRule.Check(Deploy(), stop));
    }

    [Fact]
    public void ReplayedDeployToken_IsRejected() => Assert.Equal(StopRule.ClonedClaims, StopRule.Check(Deploy(), Deploy()));

    [Fact]
    public void SameJti_DifferentIat_IsRejected()
    {
        var original = Deploy();
        Assert.Equal(StopRule.ClonedClaims, StopRule.Check(original, original with { Iat = original.Iat + 10 }));
    }

    [Fact]
    public void OtherIssuer_IsRejected() =>
        Assert.Equal(StopRule.IssuerMismatch, StopRule.Check(Deploy(), Stop(NexKeys.CreateAccount(), "echoservice", Deployed.AddSeconds(2))));

    [Fact]
    public void OtherName_IsRejected() =>
        Assert.Equal(StopRule.SubjectMismatch, StopRule.Check(Deploy(), Stop(Issuer, "otherservice", Deployed.AddSeconds(2))));

    [Fact]
    public void ChecksAreOrdered()
    {
        var original = new WorkloadClaims("J1", 100, "A1", "s1");
        Assert.Equal(StopRule.ClonedClaims, StopRule.Check(original, new WorkloadClaims("J2", 100, "A2", "s2")));
        Assert.Equal(StopRule.SubjectMismatch, StopRule.Check(original, new WorkloadClaims("J2", 101, "A2", "s2")));
        Assert.Equal(StopRule.IssuerMismatch, StopRule.Check(original, new WorkloadClaims { Jti = "J2", Iat = 101, Iss = "A2", Sub = "s1" }));
    }

    [Fact]
    public void WithTheClock_A1970Token_IsRefusedAsStale()
    {
        var now = Deployed.AddMinutes(1);
        var stop = Stop(Issuer, "echoservice", DateTimeOffset.FromUnixTimeSeconds(1));
        var reason = StopRule.Check(Deploy(), stop, now);
        Assert.Equal($"stop claims were issued {now.ToUnixTimeSeconds() - 1} seconds ago; stop tokens older than 300 seconds are refused. Rejecting for security reasons", reason);
    }

    [Theory]
    [InlineData(1, null)]          // just issued
    [InlineData(300, null)]        // exactly the window
    [InlineData(301, "stale")]
    [InlineData(-60, null)]        // the clock skew allowed
    [InlineData(-61, "ahead")]
    public void WithTheClock_TheIatMustBeFresh(int ageSeconds, string? expected)
    {
        var issued = Deployed.AddSeconds(10);
        var now = issued.AddSeconds(ageSeconds);
        var reason = StopRule.Check(Deploy(), Stop(Issuer, "echoservice", issued), now);
        switch (expected)
        {
            case null:
                Assert.Null(reason);
                break;
            case "stale":
                Assert.StartsWith($"stop claims were issued {ageSeconds} seconds ago;", reason, StringComparison.Ordinal);
                break;
            default:
                Assert.Equal($"stop claims are dated {-ageSeconds} seconds ahead of the node's clock; at most 60 seconds of clock skew are allowed", reason);
                break;
        }
    }

    [Fact]
    public void WithTheClock_0Point2RulesComeFirst() =>
        Assert.Equal(StopRule.IssuerMismatch, StopRule.Check(Deploy(), Stop(NexKeys.CreateAccount(), "echoservice", DateTimeOffset.FromUnixTimeSeconds(1)), Deployed));
}
