using Nex.Node.Config;
using Nex.Node.Workloads;
using Nex.Protocol;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>Whether an ended workload comes back, and after how long: pure decisions, no node.</summary>
public sealed class EssentialRestartPolicyTests
{
    private static readonly EssentialRestartPolicy Policy = new(new EssentialRestartConfig { InitialBackoffMs = 1000, MaxBackoffMs = 8000, ResetAfterMs = 60_000 });
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData("Exited", 1)]
    [InlineData("AgentLost", -1)]
    public void FailedEssentialWorkload_IsRestarted_WithOneMoreFailure(string why, int code) =>
        Assert.Equal(3, Policy.FailuresToRestart(Enum.Parse<WorkloadEnd>(why), code, essential: true, lameDuck: false, nodeStopping: false, Short, failuresBefore: 2));

    [Fact]
    public void ALongHealthyRun_StartsTheCountOver() =>
        Assert.Equal(1, Policy.FailuresToRestart(WorkloadEnd.Exited, 1, essential: true, lameDuck: false, nodeStopping: false, TimeSpan.FromMinutes(1), failuresBefore: 5));

    [Theory]
    [InlineData("Exited", 0, true, false, false)]        // a clean exit
    [InlineData("Exited", 1, false, false, false)]       // not essential
    [InlineData("Exited", 1, true, true, false)]         // lame duck
    [InlineData("AgentLost", -1, true, false, true)]     // the node is stopping
    [InlineData("Stopped", 1, true, false, false)]       // a STOP is never undone
    [InlineData("NodeShutdown", 1, true, false, false)]
    public void OtherEnds_AreNotRestarted(string why, int code, bool essential, bool lameDuck, bool stopping) =>
        Assert.Null(Policy.FailuresToRestart(Enum.Parse<WorkloadEnd>(why), code, essential, lameDuck, stopping, Short, failuresBefore: 0));

    [Theory]
    [InlineData(1, 1000)]
    [InlineData(2, 2000)]
    [InlineData(4, 8000)]
    [InlineData(9, 8000)] // capped
    public void Delay_DoublesPerFailure_UpToTheMaximum(int failures, int expectedMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), Policy.Delay(failures, 0.5)); // 0.5: no jitter
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs * 0.8), Policy.Delay(failures, 0));
    }

    [Fact]
    public void Replay_CountsTheRetry_StampsIt_AndDropsTheConnectionOverrides()
    {
        var now = DateTimeOffset.Parse("2026-12-06T19:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var original = new DeployRequest
        {
            Type = "native",
            Description = "kept",
            RetryCount = 2,
            HostServices = new NatsJwtConnectionInfo { NatsUrl = "nats://elsewhere:4222" },
            TriggerConnection = new NatsJwtConnectionInfo { NatsUrl = "nats://elsewhere:4222" },
        };

        var replay = EssentialRestartPolicy.Replay(original, now);

        Assert.Equal(3u, replay.RetryCount);
        Assert.Equal(now, replay.RetriedAt);
        Assert.Null(replay.HostServices);
        Assert.Null(replay.TriggerConnection);
        Assert.Equal("kept", replay.Description);
        Assert.Equal(1u, EssentialRestartPolicy.Replay(new DeployRequest(), now).RetryCount);
    }
}
