using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.ControlApi;

/// <summary>AUCTION bids carry the node's free capacity beside every 0.2 field; PING replies stay 0.2's.</summary>
public sealed class AuctionCapacityTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] CapacityFields =
        ["agent_start_failure", "cpu_count", "lame_duck", "max_workloads", "memory_available_kb", "memory_total_kb", "warm_agents"];

    [Fact]
    public async Task Bid_Has02FieldsAndCapacity_PingHasNoCapacity()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { NodeLimits = new() { MaxWorkloads = 7 } });

        using var bid = await BidAsync(node);

        var data = bid.RootElement.GetProperty("data");
        Assert.Equal(["capacity", "nexus", "node_id", "running_machines", "tags", "target_xkey", "uptime", "version"], Wire.Keys(data));
        var capacity = data.GetProperty("capacity");
        Assert.Subset(CapacityFields.ToHashSet(), Wire.Keys(capacity).ToHashSet());
        Assert.Equal(7, capacity.GetProperty("max_workloads").GetInt32());
        Assert.Equal(Environment.ProcessorCount, capacity.GetProperty("cpu_count").GetInt32());
        Assert.False(capacity.GetProperty("lame_duck").GetBoolean());
        var total = capacity.GetProperty("memory_total_kb").GetInt64();
        Assert.InRange(total, 1024 * 64, 1L << 40); // kB, as INFO's memory
        Assert.InRange(capacity.GetProperty("memory_available_kb").GetInt64(), 1, total);
        Assert.InRange(capacity.GetProperty("warm_agents").GetInt32(), 0, 64); // the node's pool, wired in

        using var ping = await Wire.RequestAsync(node.Connection, $"$NEX.PING.{node.NodeId}");
        Assert.False(ping!.RootElement.GetProperty("data").TryGetProperty("capacity", out _));
    }

    [Fact]
    public async Task Bid_ParsesAsAPingResponse_AndScoresAsAnEmptyNode()
    {
        await using var node = await TestNode.StartAsync(nats.Url);

        var bids = await node.Client.AuctionAsync(new AuctionRequest { Tags = new Dictionary<string, string> { [NexTags.NodeName] = node.Node.Tags[NexTags.NodeName] } }, Ct);

        var bid = Assert.Single(bids);
        Assert.NotNull(bid.Capacity);
        Assert.Equal(0, bid.Capacity.MaxWorkloads);
        Assert.InRange(Nex.Client.Placement.Score(bid), 85, 100); // empty, no limit, plenty of memory on a test machine
    }

    [Fact]
    public async Task LameDuckNode_StillBids_AsIn02_FlaggedSoClientsRankItLast()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        Assert.True((await node.Client.LameDuckAsync(node.NodeId, Ct)).Success);

        using var bid = await BidAsync(node);

        Assert.True(bid.RootElement.GetProperty("data").GetProperty("capacity").GetProperty("lame_duck").GetBoolean());
    }

    // An auction only this node can match (its unique name), answered directly to an inbox.
    private static async Task<System.Text.Json.JsonDocument> BidAsync(TestNode node)
    {
        var body = $"{{\"tags\":{{\"node_name\":\"{node.Node.Tags[NexTags.NodeName]}\"}}}}";
        var reply = await Wire.RequestAsync(node.Connection, NexSubjects.Auction, body);
        Assert.NotNull(reply);
        Assert.Equal(ResponseTypes.Auction, reply.RootElement.GetProperty("type").GetString());
        return reply;
    }
}
