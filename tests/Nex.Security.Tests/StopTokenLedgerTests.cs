using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Nex.Security.Tests;

/// <summary>Each stop token stops at most one workload; the ledger forgets tokens once they are stale anyway.</summary>
public sealed class StopTokenLedgerTests
{
    private static readonly NATS.NKeys.KeyPair Issuer = NexKeys.CreateAccount();
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_750_000_000);

    private static WorkloadClaims Stop(string name, DateTimeOffset at) => WorkloadJwt.Decode(WorkloadJwt.Issue(Issuer, name, null, at));

    [Fact]
    public void ASecondUseOfOneJti_IsRefused_ButAnotherTokenPasses()
    {
        var ledger = new StopTokenLedger(new FakeTimeProvider(Start));
        var token = Stop("echoservice", Start);
        Assert.True(ledger.TryConsume(token));
        Assert.False(ledger.TryConsume(token));
        Assert.False(ledger.TryConsume(Stop("echoservice", Start))); // same claims, same second: the same jti
        Assert.True(ledger.TryConsume(Stop("echoservice", Start.AddSeconds(1))));
        Assert.True(ledger.TryConsume(Stop("other", Start)));
    }

    [Fact]
    public void Tokens_AreRememberedForTheFreshnessWindowOnly()
    {
        var time = new FakeTimeProvider(Start);
        var ledger = new StopTokenLedger(time);
        var token = Stop("echoservice", Start);
        Assert.True(ledger.TryConsume(token));

        // Still fresh at iat + 5 min, so still refused; one second later StopRule refuses it as stale and
        // the ledger may forget it.
        time.Advance(StopRule.MaxAge);
        Assert.False(ledger.TryConsume(token));
        Assert.Equal(1, ledger.Count);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, ledger.Count);
    }

    [Fact]
    public void Memory_IsBoundedByTheStopsOfOneWindow()
    {
        var time = new FakeTimeProvider(Start);
        var ledger = new StopTokenLedger(time);
        for (var i = 0; i < 1000; i++)
        {
            // One stop a second for 1000 seconds: at most the last 301 are remembered.
            Assert.True(ledger.TryConsume(Stop("echoservice", time.GetUtcNow())));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.InRange(ledger.Count, 1, 301);
    }
}
