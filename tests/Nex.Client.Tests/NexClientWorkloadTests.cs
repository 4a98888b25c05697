using System.Diagnostics;
using System.Text;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.Nats;
using Nex.Protocol;
using Xunit;

namespace Nex.Client.Tests;

/// <summary>The workload helpers of <see cref="NexClient"/>, against scripted fake nodes on a private server.</summary>
public sealed class NexClientWorkloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<IAsyncDisposable> FakeNodeAsync(NatsConnection conn, string subject, Func<string, string?> reply)
    {
        var sub = await conn.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        var pump = Task.Run(async () =>
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync())
            {
                if (reply(msg.Subject) is { } body && msg.ReplyTo is { } inbox)
                {
                    await conn.PublishAsync(inbox, Encoding.UTF8.GetBytes(body));
                }
            }
        });
        return new Stopper(sub, pump);
    }

    private sealed class Stopper(INatsSub<byte[]> sub, Task pump) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await sub.UnsubscribeAsync();
            await pump;
        }
    }

    [Fact]
    public async Task AuctionFirst_ReturnsTheFirstBid_WithoutWaitingTheWindow_AndNullWhenNobodyBids()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = false }, cancellationToken: Ct);
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        var client = new NexClient(conn, new NexClientOptions { Timeout = TimeSpan.FromSeconds(5) });

        await using (await FakeNodeAsync(conn, "$NEX.AUCTION", _ => """{"type":"io.nats.nex.v1.auction_response","data":{"node_id":"NFAKE","version":"0.2.7","uptime":"1s","target_xkey":"X","running_machines":0}}"""))
        await using (await FakeNodeAsync(conn, "$NEX.AUCTION", _ => """{"type":"io.nats.nex.v1.auction_response","data":"","error":"nope"}"""))
        {
            var watch = Stopwatch.StartNew();
            var bid = await client.AuctionFirstAsync(new AuctionRequest { WorkloadTypes = ["native"] }, Ct);
            Assert.Equal("NFAKE", bid?.NodeId);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
        }

        var quick = new NexClient(conn, new NexClientOptions { Timeout = TimeSpan.FromMilliseconds(300) });
        await using (await FakeNodeAsync(conn, "$NEX.AUCTION", _ => null))
        {
            Assert.Null(await quick.AuctionFirstAsync(cancellationToken: Ct));
        }
    }

    [Fact]
    public async Task FindWorkloads_ByIdOrName_AcrossNodes()
    {
        await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = false }, cancellationToken: Ct);
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        var client = new NexClient(conn, new NexClientOptions { Timeout = TimeSpan.FromMilliseconds(500) });
        string Node(string id, string name, string machines) =>
            $$$"""{"type":"io.nats.nex.v1.ping_response","data":{"node_id":"{{{id}}}","target_xkey":"X","version":"v","uptime":"1s","tags":{"node_name":"{{{name}}}"},"running_machines":[{{{machines}}}]}}""";
        const string Echo1 = """{"id":"w1","namespace":"default","name":"echo","type":"native"}""";
        const string Echo2 = """{"id":"w2","namespace":"default","name":"Echo","type":"native"}""";
        const string Other = """{"id":"w3","namespace":"default","name":"other","type":"v8"}""";

        await using var a = await FakeNodeAsync(conn, "$NEX.WPING.>", _ => Node("NA", "alpha", Echo1 + "," + Other));
        await using var b = await FakeNodeAsync(conn, "$NEX.WPING.>", _ => Node("NB", "beta", Echo2));

        var all = await client.FindWorkloadsAsync(cancellationToken: Ct);
        Assert.Equal(["w1", "w3", "w2"], all.Select(w => w.Workload.Id));
        Assert.Equal(["alpha", "alpha", "beta"], all.Select(w => w.NodeName));

        var echo = await client.FindWorkloadsAsync("echo", Ct);
        Assert.Equal(["w1", "w2"], echo.Select(w => w.Workload.Id));
        Assert.Equal(["NA", "NB"], echo.Select(w => w.NodeId));

        var byId = Assert.Single(await client.FindWorkloadsAsync("w3", Ct));
        Assert.Equal("other", byId.Workload.Name);
    }
}
