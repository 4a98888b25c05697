using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.NKeys;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.Fleet;

/// <summary>
/// A STOP of a workload that is recorded in the desired state but runs nowhere (its node died and it waits for
/// another): the node checks the stop rule against the record's JWT and removes the record (issue 17 item 6).
/// The tests share one node; each writes its records under a namespace of its own.
/// </summary>
public sealed class StopRecordedTests(StopRecordedTests.NodeFixture fixture) : IClassFixture<StopRecordedTests.NodeFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RecordOfANodeThatDoesNotAnswer_IsStoppedByItsIssuer_AndRemoved()
    {
        var (ns, client) = Namespace();
        using var issuer = NexKeys.CreateAccount();
        var (key, id) = await PutRecordAsync(ns, "ghost", issuer, nodeId: NexKeys.CreateServer().GetPublicKey());

        var stop = WorkloadRequests.BuildStop(fixture.Node.NodeId, id, "ghost", issuer);
        var response = await client.StopAsync(fixture.Node.NodeId, stop, Ct);

        Assert.True(response.Stopped);
        Assert.Equal(id, response.Id);
        Assert.Equal("ghost", response.Name);
        Assert.Equal(issuer.GetPublicKey(), response.Issuer);
        Assert.Null((await ReadAsync(fixture.Node.Connection, key)).Record);

        // The token is spent like any stop's, and the record is gone: the same STOP again finds nothing.
        var again = await Assert.ThrowsAsync<NexClientException>(() => client.StopAsync(fixture.Node.NodeId, stop, Ct));
        Assert.Equal("No such workload", again.Message);
    }

    [Fact]
    public async Task AnotherIssuer_IsRefused_AndTheRecordIsKept()
    {
        var (ns, client) = Namespace();
        using var issuer = NexKeys.CreateAccount();
        using var other = NexKeys.CreateAccount();
        var (key, id) = await PutRecordAsync(ns, "ghost", issuer, nodeId: NexKeys.CreateServer().GetPublicKey());

        var refused = await Assert.ThrowsAsync<NexClientException>(() => client.StopAsync(fixture.Node.NodeId, WorkloadRequests.BuildStop(fixture.Node.NodeId, id, "ghost", other), Ct));

        Assert.Equal($"Invalid stop request: {StopRule.IssuerMismatch}", refused.Message);
        Assert.NotNull((await ReadAsync(fixture.Node.Connection, key)).Record);
    }

    [Fact]
    public async Task RecordOfANodeThatAnswersPing_IsThatNodesToStop()
    {
        var (ns, client) = Namespace();
        using var issuer = NexKeys.CreateAccount();
        var alive = NexKeys.CreateServer().GetPublicKey();
        var (key, id) = await PutRecordAsync(ns, "elsewhere", issuer, nodeId: alive);

        // A stand-in for a live node: it answers its PING subject.
        await using var responder = await fixture.Node.Connection.SubscribeCoreAsync<byte[]>(NexSubjects.PingNode(alive), cancellationToken: Ct);
        var answering = Task.Run(
            async () =>
            {
                await foreach (var msg in responder.Msgs.ReadAllAsync(Ct))
                {
                    await msg.ReplyAsync("{}"u8.ToArray(), cancellationToken: Ct);
                }
            },
            Ct);

        var refused = await Assert.ThrowsAsync<NexClientException>(() => client.StopAsync(fixture.Node.NodeId, WorkloadRequests.BuildStop(fixture.Node.NodeId, id, "elsewhere", issuer), Ct));

        Assert.Equal("No such workload", refused.Message);
        Assert.NotNull((await ReadAsync(fixture.Node.Connection, key)).Record);
    }

    [Fact]
    public async Task HandedOffRecord_AndThisNodesOwnRecord_AreStopped_ByTheirKeyToo()
    {
        var (ns, client) = Namespace();
        using var issuer = NexKeys.CreateAccount();
        var alive = NexKeys.CreateServer().GetPublicKey();
        var (handedOff, handedOffId) = await PutRecordAsync(ns, "moving", issuer, nodeId: alive, handoff: true);
        var (own, _) = await PutRecordAsync(ns, "mine", issuer, nodeId: fixture.Node.NodeId, currentId: Xid.NewId());

        var first = await client.StopAsync(fixture.Node.NodeId, WorkloadRequests.BuildStop(fixture.Node.NodeId, handedOffId, "moving", issuer), Ct);

        // Asked by its key (the first id) after a restart gave it another one.
        var firstId = own[(ns.Length + 1)..];
        var second = await client.StopAsync(fixture.Node.NodeId, WorkloadRequests.BuildStop(fixture.Node.NodeId, firstId, "mine", issuer), Ct);

        Assert.True(first.Stopped && second.Stopped);
        Assert.Null((await ReadAsync(fixture.Node.Connection, handedOff)).Record);
        Assert.Null((await ReadAsync(fixture.Node.Connection, own)).Record);
    }

    [Fact]
    public async Task RecordOfAnotherNamespace_IsNoSuchWorkload()
    {
        var (ns, _) = Namespace();
        var (_, otherClient) = Namespace();
        using var issuer = NexKeys.CreateAccount();
        var (key, id) = await PutRecordAsync(ns, "hidden", issuer, nodeId: NexKeys.CreateServer().GetPublicKey());

        var refused = await Assert.ThrowsAsync<NexClientException>(() => otherClient.StopAsync(fixture.Node.NodeId, WorkloadRequests.BuildStop(fixture.Node.NodeId, id, "hidden", issuer), Ct));

        Assert.Equal("No such workload", refused.Message);
        Assert.NotNull((await ReadAsync(fixture.Node.Connection, key)).Record);
    }

    private (string Namespace, NexClient Client) Namespace()
    {
        var ns = "stoprec" + Guid.NewGuid().ToString("N")[..8];
        return (ns, new NexClient(fixture.Node.Connection, new NexClientOptions { Namespace = ns, Timeout = TimeSpan.FromSeconds(10) }));
    }

    private Task<(string Key, string CurrentId)> PutRecordAsync(string ns, string name, KeyPair issuer, string nodeId, bool handoff = false, string? currentId = null) =>
        DesiredRecords.PutAsync(fixture.Node.Connection, ns, name, issuer, nodeId, handoff, currentId, Ct);

    /// <summary>One node with desired state for the class.</summary>
    public sealed class NodeFixture(NatsServerFixture nats) : IAsyncLifetime
    {
        private TestNode? _node;

        public TestNode Node => _node ?? throw new InvalidOperationException("not started");

        public async ValueTask InitializeAsync() => _node = await TestNode.StartAsync(nats.Url);

        public async ValueTask DisposeAsync()
        {
            if (_node is not null)
            {
                await _node.DisposeAsync();
            }
        }
    }
}
