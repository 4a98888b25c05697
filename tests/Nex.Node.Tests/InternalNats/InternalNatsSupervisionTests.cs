using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using Nex.Node.InternalNats;
using Xunit;

namespace Nex.Node.Tests.InternalNats;

/// <summary>The internal server's supervisor against a real nats-server killed with -9 (issue 15 item 7).</summary>
public sealed class InternalNatsSupervisionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AKilledServer_IsRestartedOnTheSamePort_WithEveryAccount_AndConnectionsResubscribe()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await InternalNatsServer.StartAsync(NullLogger.Instance, Ct, time);
        var credentials = await server.AddWorkloadAsync("workloada", Ct);
        await using var agent = await server.ConnectAsWorkloadAsync(credentials.AgentSeed, "workloada", Ct);
        await using var node = await server.ConnectAsWorkloadAsync(credentials.NodeSeed, "workloada", Ct);
        await using var inbox = await node.SubscribeCoreAsync<string>("hostint.workloada.logs", cancellationToken: Ct);
        var (port, pid) = (server.Port, server.ProcessId);

        Nex.Processes.Posix.Signal(pid, Nex.Processes.Posix.SIGKILL);
        var down = await server.HealthChanges.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);
        Assert.Equal(InternalNatsState.Restarting, down.State);
        Assert.Equal("the internal NATS server exited; restarting it", down.Reason);
        var up = await server.HealthChanges.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct);
        Assert.Equal(InternalNatsState.Up, up.State);
        Assert.True(server.Health.IsUp);
        Assert.Equal(port, server.Port);
        Assert.NotEqual(pid, server.ProcessId);
        Assert.Equal(1, server.Restarts);

        // Both users of the account are known to the new process, and the node's subscription is back.
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            await agent.PublishAsync("hostint.workloada.logs", "hello", cancellationToken: Ct);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            attempt.CancelAfter(TimeSpan.FromMilliseconds(200));
            try
            {
                Assert.Equal("hello", (await inbox.Msgs.ReadAsync(attempt.Token)).Data);
                break;
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested && DateTime.UtcNow < deadline)
            {
            }
        }

        // Configuration changes reload the new process.
        var reloads = server.Reloads;
        await server.RemoveWorkloadAsync("workloada", Ct);
        Assert.Equal(reloads + 1, server.Reloads);
    }

    [Fact]
    public async Task ARestartThatCannotBindItsPort_MakesItFailed_UntilALaterAttemptSucceeds()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var policy = RestartPolicyOptions.Default with { FirstDelay = TimeSpan.FromSeconds(1) };
        await using var server = await InternalNatsServer.StartAsync(NullLogger.Instance, Ct, time, policy);
        var port = server.Port;

        Nex.Processes.Posix.Signal(server.ProcessId, Nex.Processes.Posix.SIGKILL);
        Assert.Equal(InternalNatsState.Restarting, (await server.HealthChanges.ReadAsync(Ct).AsTask().WaitAsync(Wait, Ct)).State);

        // Someone takes the port while the restart waits.
        var squatter = new TcpListener(IPAddress.Loopback, port);
        squatter.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        squatter.Start();
        InternalNatsHealth failed;
        try
        {
            failed = await AdvanceUntilAsync(time, server.HealthChanges.ReadAsync(Ct).AsTask());
        }
        finally
        {
            squatter.Stop();
        }

        Assert.Equal(InternalNatsState.Failed, failed.State);
        Assert.StartsWith($"the internal NATS server could not be restarted on port {port}: ", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("address already in use", failed.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failed.Reason!);

        // A change while it is down is kept for the restart (nothing to reload).
        await server.RemoveWorkloadAsync("nobody", Ct);

        var up = await AdvanceUntilAsync(time, server.HealthChanges.ReadAsync(Ct).AsTask());
        Assert.Equal(InternalNatsState.Up, up.State);
        Assert.Equal(port, server.Port);
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = server.Url, MaxReconnectRetry = 0 });
        await Assert.ThrowsAnyAsync<NatsException>(async () => await connection.ConnectAsync()); // listening, and still refusing anonymous clients
    }

    // The supervisor waits on the fake clock: move it on until the awaited change comes.
    private static async Task<T> AdvanceUntilAsync<T>(FakeTimeProvider time, Task<T> change)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!change.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "no health change");
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.WhenAny(change, Task.Delay(50, Ct));
        }

        return await change;
    }
}
