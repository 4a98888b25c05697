using NATS.Client.Core;
using Nex.Node.InternalNats;
using Xunit;

namespace Nex.Node.Tests.InternalNats;

/// <summary>The internal server's isolation (spec §5.2–5.3, §12.2 "Security and isolation").</summary>
public sealed class InternalNatsServerTests : IAsyncLifetime
{
    private InternalNatsServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() =>
        _server = await InternalNatsServer.StartAsync(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, Ct);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public void TheServer_RunsOneGoThread_UnlessTheNodesEnvironmentSaysOtherwise()
    {
        var expected = Environment.GetEnvironmentVariable(Nex.Node.Nats.NatsServerProcess.GoMaxProcsVariable) ?? "1";
        Assert.Contains($"GOMAXPROCS={expected}", Nex.Node.Tests.Nats.NatsServerProcessTests.EnvironmentOf(_server.ProcessId));
    }

    [Fact]
    public async Task ItsDirectory_IsNamedByThePid_AndAKilledNodesIsRemovedAtTheNextStart()
    {
        // A node killed with -9 cannot remove its directory; the next one to start does.
        var deadPid = Enumerable.Range(4_000_000, 1000).First(pid => !Nex.Processes.Posix.IsAlive(pid));
        var stale = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"nex-internal-nats-{deadPid}-abcdef")).FullName;
        var live = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"nex-internal-nats-{Environment.ProcessId}-abcdef")).FullName;
        try
        {
            await using var another = await InternalNatsServer.StartAsync(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, Ct);
            Assert.False(Directory.Exists(stale));
            Assert.True(Directory.Exists(live));
            Assert.Contains(Directory.EnumerateDirectories(Path.GetTempPath(), $"nex-internal-nats-{Environment.ProcessId}-*"), d => d != live);
        }
        finally
        {
            Directory.Delete(live, recursive: true);
            if (Directory.Exists(stale))
            {
                Directory.Delete(stale, recursive: true);
            }
        }
    }

    [Fact]
    public async Task UnauthenticatedClients_AreRefused()
    {
        await using var anonymous = new NatsConnection(NatsOpts.Default with { Url = _server.Url, MaxReconnectRetry = 0 });
        await Assert.ThrowsAnyAsync<NatsException>(async () => await anonymous.ConnectAsync());
    }

    [Fact]
    public async Task AWorkload_CannotReachAnotherWorkloadsSubjects()
    {
        var a = await _server.AddWorkloadAsync("workloada", Ct);
        var b = await _server.AddWorkloadAsync("workloadb", Ct);
        await using var agentA = await _server.ConnectAsWorkloadAsync(a.AgentSeed, "workloada", Ct);
        await using var nodeA = await _server.ConnectAsWorkloadAsync(a.NodeSeed, "workloada", Ct);
        await using var agentB = await _server.ConnectAsWorkloadAsync(b.AgentSeed, "workloadb", Ct);
        await using var nodeB = await _server.ConnectAsWorkloadAsync(b.NodeSeed, "workloadb", Ct);

        // Everything inside B's account: what the node sends B and what B sends the node.
        await using var bSees = await agentB.SubscribeCoreAsync<byte[]>(">", cancellationToken: Ct);
        await using var nodeBSees = await nodeB.SubscribeCoreAsync<byte[]>(">", cancellationToken: Ct);
        await using var nodeASees = await nodeA.SubscribeCoreAsync<byte[]>("hostint.workloada.>", cancellationToken: Ct);
        await using var aSpies = await agentA.SubscribeCoreAsync<byte[]>("agentint.workloadb.>", cancellationToken: Ct);
        await agentB.PingAsync(Ct);
        await nodeB.PingAsync(Ct);
        await nodeA.PingAsync(Ct);
        await agentA.PingAsync(Ct);

        foreach (var subject in new[] { "hostint.workloadb.handshake", "hostint.workloadb.rpc.default.b.kv.get", "agentint.workloadb.deploy", "anything" })
        {
            await agentA.PublishAsync(subject, "from A"u8.ToArray(), cancellationToken: Ct);
        }

        await agentA.PublishAsync("hostint.workloada.logs", "own"u8.ToArray(), cancellationToken: Ct);
        await nodeB.PublishAsync("agentint.workloadb.ping", "ping"u8.ToArray(), cancellationToken: Ct);
        await agentA.PingAsync(Ct);
        await nodeB.PingAsync(Ct);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        var own = await nodeASees.Msgs.ReadAsync(timeout.Token);
        Assert.Equal("hostint.workloada.logs", own.Subject);

        // The server has handled every publish above (their senders' pings came back), so anything it passed on
        // to B or to A's spy is queued ahead of the PONG each receiver now gets, and read before it.
        await agentB.PingAsync(Ct);
        await nodeB.PingAsync(Ct);
        await agentA.PingAsync(Ct);

        var seenByB = Drain(bSees).Concat(Drain(nodeBSees)).ToList();
        Assert.DoesNotContain(seenByB, m => m.Data is { } d && System.Text.Encoding.UTF8.GetString(d) == "from A");
        Assert.DoesNotContain(Drain(aSpies), m => m.Data is { } d && System.Text.Encoding.UTF8.GetString(d) == "ping"); // B's traffic never reaches A
    }

    [Fact]
    public async Task Subscriptions_SurviveOtherWorkloadsComingAndGoing()
    {
        // nats-server 2.9 orphans the subscriptions of an account changed by a reload: no account may change.
        var one = await _server.AddWorkloadAsync("one", Ct);
        await using var agent = await _server.ConnectAsWorkloadAsync(one.AgentSeed, "one", Ct);
        await using var node = await _server.ConnectAsWorkloadAsync(one.NodeSeed, "one", Ct);
        await using var agentSub = await agent.SubscribeCoreAsync<byte[]>("agentint.one.ping", cancellationToken: Ct);
        await using var nodeSub = await node.SubscribeCoreAsync<byte[]>("hostint.one.logs", cancellationToken: Ct);
        await agent.PingAsync(Ct);
        await node.PingAsync(Ct);

        for (var i = 0; i < 3; i++)
        {
            await _server.AddWorkloadAsync("other" + i, Ct);
        }

        await _server.RemoveWorkloadAsync("other1", Ct);
        await node.PublishAsync("agentint.one.ping", "x"u8.ToArray(), cancellationToken: Ct);
        await agent.PublishAsync("hostint.one.logs", "y"u8.ToArray(), cancellationToken: Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        Assert.Equal("x"u8.ToArray(), (await agentSub.Msgs.ReadAsync(timeout.Token)).Data);
        Assert.Equal("y"u8.ToArray(), (await nodeSub.Msgs.ReadAsync(timeout.Token)).Data);
    }

    [Fact]
    public async Task RemovingAWorkload_RevokesItsCredentials()
    {
        var credentials = await _server.AddWorkloadAsync("gone", Ct);
        await (await _server.ConnectAsWorkloadAsync(credentials.AgentSeed, "gone", Ct)).DisposeAsync();
        await _server.RemoveWorkloadAsync("gone", Ct);
        await Assert.ThrowsAnyAsync<NatsException>(async () => await _server.ConnectAsWorkloadAsync(credentials.AgentSeed, "gone", Ct));
    }

    [Fact]
    public async Task SpareAccounts_SaveReloads_AndAreRevokedLikeAnyOther()
    {
        await _server.AddWorkloadAsync("first", Ct);
        var reloads = _server.Reloads;
        var spares = new List<WorkloadCredentials>();
        for (var i = 0; i < InternalNatsServer.SpareAccounts; i++)
        {
            spares.Add(await _server.AddWorkloadAsync($"spare{i}", Ct));
        }

        Assert.Equal(reloads, _server.Reloads);
        await _server.AddWorkloadAsync("next", Ct);
        Assert.Equal(reloads + 1, _server.Reloads);

        await (await _server.ConnectAsWorkloadAsync(spares[0].AgentSeed, "spare0", Ct)).DisposeAsync();
        await _server.RemoveWorkloadAsync("spare0", Ct);
        await Assert.ThrowsAnyAsync<NatsException>(async () => await _server.ConnectAsWorkloadAsync(spares[0].AgentSeed, "spare0", Ct));
        await using var other = await _server.ConnectAsWorkloadAsync(spares[1].NodeSeed, "spare1", Ct);
        await other.PingAsync(Ct);
    }

    [Fact]
    public async Task ManyWorkloads_AreAddedWithConfirmedReloads()
    {
        var all = new List<(string Id, WorkloadCredentials Credentials)>();
        for (var i = 0; i < 10; i++)
        {
            all.Add(($"w{i}", await _server.AddWorkloadAsync($"w{i}", Ct)));
        }

        foreach (var (id, credentials) in all)
        {
            await using var connection = await _server.ConnectAsWorkloadAsync(credentials.AgentSeed, id, Ct);
            await connection.PingAsync(Ct);
        }
    }

    private static List<NatsMsg<byte[]>> Drain(INatsSub<byte[]> sub)
    {
        var result = new List<NatsMsg<byte[]>>();
        while (sub.Msgs.TryRead(out var msg))
        {
            result.Add(msg);
        }

        return result;
    }
}

