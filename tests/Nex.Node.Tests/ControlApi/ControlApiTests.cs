using System.Text.Json;
using NATS.Client.Core;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.ControlApi;

/// <summary>The control API over real NATS, driven by hand-made requests (spec §1).</summary>
public sealed class ControlApiTests(NatsServerFixture nats) : IAsyncLifetime
{
    private TestNode _node = null!;

    public async ValueTask InitializeAsync() => _node = await TestNode.StartAsync(nats.Url);

    public async ValueTask DisposeAsync() => await _node.DisposeAsync();

    private NatsConnection Conn => _node.Connection;

    [Fact]
    public async Task Ping_ByHand_HasExactly02FieldNamesAndTypes()
    {
        using var reply = await Wire.RequestAsync(Conn, $"$NEX.PING.{_node.NodeId}");
        Assert.NotNull(reply);
        var root = reply.RootElement;
        Assert.Equal(["data", "type"], Wire.Keys(root));
        Assert.Equal("io.nats.nex.v1.ping_response", root.GetProperty("type").GetString());
        var data = root.GetProperty("data");
        Assert.Equal(["nexus", "node_id", "running_machines", "tags", "target_xkey", "uptime", "version"], Wire.Keys(data));
        Assert.Equal(_node.NodeId, data.GetProperty("node_id").GetString());
        Assert.StartsWith("X", data.GetProperty("target_xkey").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Number, data.GetProperty("running_machines").ValueKind);
        Assert.Equal(0, data.GetProperty("running_machines").GetInt32());
        Assert.Matches("^([0-9]+[ydhms])+$", data.GetProperty("uptime").GetString());
        var tags = data.GetProperty("tags");
        Assert.Equal("linux", tags.GetProperty("nex.os").GetString());
        Assert.Equal("amd64", tags.GetProperty("nex.arch").GetString());
        Assert.Equal(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture), tags.GetProperty("nex.cpucount").GetString());
        Assert.Equal("true", tags.GetProperty("nex.unsafe").GetString());
        Assert.False(string.IsNullOrEmpty(tags.GetProperty("node_name").GetString()));
    }

    [Fact]
    public async Task PingBroadcast_EveryNodeAnswersOnce()
    {
        await using var second = await TestNode.StartAsync(nats.Url);
        var nodes = await _node.Client.PingAsync(TestContext.Current.CancellationToken);
        Assert.Contains(nodes, n => n.NodeId == _node.NodeId);
        Assert.Contains(nodes, n => n.NodeId == second.NodeId);
        Assert.Equal(nodes.Count, nodes.Select(n => n.NodeId).Distinct().Count());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not json at all")]
    [InlineData("{\"os\":\"LINUX\",\"arch\":\"AMD64\"}")]
    [InlineData("{\"sandboxed\":false,\"workload_types\":[\"native\"]}")]
    public async Task Auction_MatchingOrUnparsable_Answers(string? body)
    {
        var replies = await GatherAsync("$NEX.AUCTION", body);
        var mine = Assert.Single(replies, r => r.GetProperty("data").GetProperty("node_id").GetString() == _node.NodeId);
        Assert.Equal("io.nats.nex.v1.auction_response", mine.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("{\"os\":\"darwin\"}")]
    [InlineData("{\"arch\":\"arm64\"}")]
    [InlineData("{\"sandboxed\":true}")]
    [InlineData("{\"workload_types\":[\"v8\"]}")]
    [InlineData("{\"tags\":{\"nope\":\"x\"}}")]
    public async Task Auction_NotMatching_IsSilent(string body)
    {
        var replies = await GatherAsync("$NEX.AUCTION", body);
        Assert.DoesNotContain(replies, r => r.GetProperty("data").GetProperty("node_id").GetString() == _node.NodeId);
    }

    [Fact]
    public async Task Auction_TagValues_MatchCaseInsensitively()
    {
        var name = _node.Node.Tags["node_name"].ToUpperInvariant();
        var replies = await GatherAsync("$NEX.AUCTION", $"{{\"tags\":{{\"node_name\":\"{name}\"}}}}");
        Assert.Single(replies, r => r.GetProperty("data").GetProperty("node_id").GetString() == _node.NodeId);
    }

    [Fact]
    public async Task WorkloadPing_NoWorkloads_IsSilent()
    {
        var replies = await GatherAsync("$NEX.WPING.default", null);
        Assert.DoesNotContain(replies, r => r.GetProperty("data").GetProperty("node_id").GetString() == _node.NodeId);
    }

    [Fact]
    public async Task Info_HasMemoryInKbAndEmptyMachines()
    {
        using var reply = await Wire.RequestAsync(Conn, $"$NEX.INFO.default.{_node.NodeId}");
        Assert.NotNull(reply);
        Assert.Equal("io.nats.nex.v1.info_response", reply.RootElement.GetProperty("type").GetString());
        var data = reply.RootElement.GetProperty("data");
        Assert.Equal(["machines", "memory", "public_xkey", "supported_workload_types", "tags", "uptime", "version"], Wire.Keys(data));
        Assert.Equal(JsonValueKind.Array, data.GetProperty("machines").ValueKind);
        Assert.Equal(0, data.GetProperty("machines").GetArrayLength());
        var memory = data.GetProperty("memory");
        Assert.Equal(["available", "free", "total"], Wire.Keys(memory));
        var totalKb = memory.GetProperty("total").GetInt64();
        Assert.InRange(totalKb, 1024 * 64, 1L << 40); // kB, not bytes
        Assert.Equal(["native"], data.GetProperty("supported_workload_types").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("garbage", "Unable to deserialize deploy request: ")]
    [InlineData("{\"type\":\"native\",\"location\":", "Unable to deserialize deploy request: ")]
    [InlineData("{\"type\":5}", "Unable to deserialize deploy request: ")]
    [InlineData("{\"argv\":\"not-an-array\"}", "Unable to deserialize deploy request: ")]
    [InlineData("", "Unable to deserialize deploy request: ")]
    public async Task Deploy_BadJson_GetsErrorEnvelope(string body, string expectedPrefix)
    {
        using var reply = await Wire.RequestAsync(Conn, $"$NEX.DEPLOY.default.{_node.NodeId}", body);
        Assert.NotNull(reply);
        Assert.Equal("io.nats.nex.v1.run_response", reply.RootElement.GetProperty("type").GetString());
        Assert.Equal("", reply.RootElement.GetProperty("data").GetString());
        Assert.StartsWith(expectedPrefix, reply.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        await AssertStillUpAsync();
    }

    [Theory]
    [InlineData("garbage", "Unable to deserialize stop request: ")]
    [InlineData("{\"workload_id\":7}", "Unable to deserialize stop request: ")]
    [InlineData("{\"workload_id\":\"nope\",\"workload_jwt\":\"x\",\"target_node\":\"y\"}", "No such workload")]
    public async Task Stop_BadInput_GetsErrorEnvelope(string body, string expectedPrefix)
    {
        using var reply = await Wire.RequestAsync(Conn, $"$NEX.STOP.default.{_node.NodeId}", body);
        Assert.NotNull(reply);
        Assert.Equal("io.nats.nex.v1.stop_response", reply.RootElement.GetProperty("type").GetString());
        Assert.StartsWith(expectedPrefix, reply.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        await AssertStillUpAsync();
    }

    [Theory]
    [InlineData("$NEX.FOO")]
    [InlineData("$NEX.INFO.default")]
    [InlineData("$NEX.DEPLOY.default.NOTTHISNODE")]
    public async Task UnknownSubjects_AreSilent(string subject)
    {
        Assert.Null(await Wire.RequestAsync(Conn, subject, "{}", TimeSpan.FromMilliseconds(300)));
        await AssertStillUpAsync();
    }

    [Fact]
    public async Task RequestWithoutReplySubject_DoesNotHurt()
    {
        await Conn.PublishAsync($"$NEX.DEPLOY.default.{_node.NodeId}", "garbage"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken);
        await Conn.PublishAsync($"$NEX.PING", "x"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken);
        await AssertStillUpAsync();
    }

    private async Task AssertStillUpAsync()
    {
        var ping = await _node.Client.PingNodeAsync(_node.NodeId, TestContext.Current.CancellationToken);
        Assert.Equal(_node.NodeId, ping.NodeId);
    }

    private async Task<List<JsonElement>> GatherAsync(string subject, string? body)
    {
        var inbox = Conn.NewInbox();
        var results = new List<JsonElement>();
        await using var sub = await Conn.SubscribeCoreAsync<byte[]>(inbox, cancellationToken: TestContext.Current.CancellationToken);
        await Conn.PublishAsync(subject, body is null ? [] : System.Text.Encoding.UTF8.GetBytes(body), replyTo: inbox, cancellationToken: TestContext.Current.CancellationToken);
        using var window = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(window.Token))
            {
                if (msg.Data is { Length: > 0 } data)
                {
                    results.Add(JsonDocument.Parse(data).RootElement.Clone());
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return results;
    }
}
