using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using Nex.Node.Agents;
using Nex.Node.Config;
using Nex.Node.Tests.Agents;
using Nex.Node.InternalNats;
using Nex.Node.Machines;
using Nex.Processes;
using Nex.Protocol;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>
/// A pool whose agents cannot start (issue 15 #10: the sandbox user cannot reach the rootfs) backs off on
/// the node's clock instead of looping, says why once it is a pattern, and lets deploys fail at once.
/// </summary>
public sealed class AgentPoolStartFailureTests
{
    private const string Cause = "bwrap: Can't find source path /root/.nex/sandbox/rootfs: Permission denied";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Backoff_Doubles_From100Ms_UpTo30Seconds()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(100), AgentPool.Backoff(1));
        Assert.Equal(TimeSpan.FromMilliseconds(200), AgentPool.Backoff(2));
        Assert.Equal(TimeSpan.FromMilliseconds(400), AgentPool.Backoff(3));
        Assert.Equal(TimeSpan.FromSeconds(30), AgentPool.Backoff(12));
        Assert.Equal(TimeSpan.FromSeconds(30), AgentPool.Backoff(int.MaxValue));
    }

    [Fact]
    public async Task FailingStarts_BackOffOnTheClock_ThenReportTheCauseOnce_AndATakeTriesOnceMoreThenFails()
    {
        var time = new TimerRecordingTimeProvider();
        var driver = new FailingDriver();
        var failing = Channel.CreateUnbounded<(string Reason, int Failures)>();
        await using var internalNats = await InternalNatsServer.StartAsync(NullLogger.Instance, Ct);
        var pool = new AgentPool(driver, internalNats, new NoListener(), new NodeConfig(), time, NullLogger<AgentPool>.Instance, (reason, failures) =>
        {
            failing.Writer.TryWrite((reason, failures));
            return ValueTask.CompletedTask;
        });
        await using (pool)
        {
            pool.Start();
            for (var failures = 1; failures <= AgentPool.FailingAfter + 1; failures++)
            {
                // Each failed start is followed by a wait on the node's clock, of the backoff's length, and
                // nothing else happens until that time has passed: no hot loop.
                var due = await time.NextTimerAsync(TimeSpan.FromSeconds(30));
                Assert.Equal(AgentPool.Backoff(failures), due);
                Assert.Equal(failures, driver.Starts);
                if (failures < AgentPool.FailingAfter)
                {
                    Assert.Null(pool.StartFailure);
                }
                else
                {
                    Assert.Contains(Cause, pool.StartFailure, StringComparison.Ordinal);
                }

                time.Advance(due);
            }

            // A deploy while failing cuts the backoff short: one more start at once, without the clock
            // moving, and when it fails too the take gives up (no wait for an agent that cannot come).
            Assert.Equal(AgentPool.Backoff(AgentPool.FailingAfter + 2), await time.NextTimerAsync(TimeSpan.FromSeconds(30)));
            var starts = driver.Starts;
            Assert.Null(await pool.TakeAsync(TimeSpan.FromSeconds(30), Ct));
            Assert.Equal(starts + 1, driver.Starts);

            var reported = await failing.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Equal(AgentPool.FailingAfter, reported.Failures);
            Assert.Contains(Cause, reported.Reason, StringComparison.Ordinal);
            Assert.False(failing.Reader.TryRead(out _)); // once per run of failures, not per failure
        }
    }

    private sealed class FailingDriver : IMachineDriver
    {
        private int _starts;

        public int Starts => Volatile.Read(ref _starts);

        public string Name => "failing";

        public string? WorkloadNatsUrl(string mainUrl) => null;

        public Task<IMachine> StartAsync(MachineSpec spec, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _starts);
            return Task.FromException<IMachine>(new InvalidOperationException(Cause));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
