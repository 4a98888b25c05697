using System.Diagnostics;
using System.Text;
using Nex.Nats;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

public sealed class NexClientTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ping_GathersEveryNode_AndInfoReachesEach()
    {
        await using var a = await TestNode.StartAsync(nats.Url);
        await using var b = await TestNode.StartAsync(nats.Url);
        var nodes = await a.Client.PingAsync(Ct);
        Assert.Contains(nodes, n => n.NodeId == a.NodeId);
        Assert.Contains(nodes, n => n.NodeId == b.NodeId);

        var info = await a.Client.InfoAsync(b.NodeId, Ct);
        Assert.Equal(b.Node.PublicXKey, info.PublicXkey);
        Assert.Empty(info.Machines);
    }

    [Fact]
    public async Task Ping_EndsAQuietGapAfterTheLastReply_WellBeforeTheTimeout()
    {
        await using var a = await TestNode.StartAsync(nats.Url);
        await using var b = await TestNode.StartAsync(nats.Url);
        var client = new NexClient(a.Client.Connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(30) });
        var watch = Stopwatch.StartNew();
        var nodes = await client.PingAsync(Ct);
        Assert.Contains(nodes, n => n.NodeId == a.NodeId);
        Assert.Contains(nodes, n => n.NodeId == b.NodeId);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Ping_WithNobodyListening_ReturnsEmptyWithoutWaitingTheTimeout()
    {
        await using var server = await Nex.Node.Nats.NatsServerProcess.StartAsync(new Nex.Node.Nats.NatsServerOptions { JetStream = false }, cancellationToken: Ct);
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = server.ClientUrl }, Ct);
        var client = new NexClient(conn, new NexClientOptions { Timeout = TimeSpan.FromSeconds(5) });
        var watch = Stopwatch.StartNew();
        Assert.Empty(await client.PingAsync(Ct));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task DirectRequest_ToUnknownNode_SaysSoInOneLine()
    {
        await using var a = await TestNode.StartAsync(nats.Url);
        var ex = await Assert.ThrowsAsync<NexClientException>(() => a.Client.InfoAsync("NNOTANODE", Ct));
        Assert.Contains("no node NNOTANODE is listening", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.IsNodeError);
    }

    [Fact]
    public async Task NodeErrors_SurfaceAsTheEnvelopeText()
    {
        await using var a = await TestNode.StartAsync(nats.Url);
        var ex = await Assert.ThrowsAsync<NexClientException>(() => a.Client.StopAsync(a.NodeId, new StopRequest { WorkloadId = "x", WorkloadJwt = "y", TargetNode = a.NodeId }, Ct));
        Assert.Equal("No such workload", ex.Message);
        Assert.True(ex.IsNodeError);
    }

    [Fact]
    public async Task ResolveNodeId_ByPrefixOrName()
    {
        await using var a = await TestNode.StartAsync(nats.Url);
        Assert.Equal(a.NodeId, await a.Client.ResolveNodeIdAsync(a.NodeId[..12], Ct));
        Assert.Equal(a.NodeId, await a.Client.ResolveNodeIdAsync(a.Node.Tags["node_name"], Ct));
        Assert.Equal("NOPE", await a.Client.ResolveNodeIdAsync("NOPE", Ct));
    }

    [Fact]
    public async Task WatchEvents_DeliversNamespaceAndSystemEvents_AsIn02Monitor()
    {
        // Other tests' nodes publish on the same server: look only for this test's own events.
        var ns = "ns" + Guid.NewGuid().ToString("N")[..8];
        var source = "src-" + ns;
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        var client = new NexClient(conn, new NexClientOptions { Namespace = ns });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(10));
        var received = new List<NexEventMessage>();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = "probe-" + ns;
        var watching = Task.Run(async () =>
        {
            await foreach (var e in client.WatchEventsAsync(cancellationToken: stop.Token))
            {
                if (e.Event?.Source == probe)
                {
                    subscribed.TrySetResult();
                }
                else if (e.Event?.Source == source)
                {
                    received.Add(e);
                    if (received.Count == 2)
                    {
                        break;
                    }
                }
            }
        }, Ct);
        var probeEvent = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
            CloudEvent.Create(probe, "workload_deployed", DateTimeOffset.UtcNow, new WorkloadDeployedEvent { WorkloadName = "probe" }, NexJson.Context.WorkloadDeployedEvent, ns),
            NexJson.Context.CloudEvent);
        await UntilSubscribedAsync(() => conn.PublishAsync($"$NEX.events.{ns}.workload_deployed", probeEvent, cancellationToken: Ct).AsTask(), subscribed.Task);

        // As the 0.2 spec suite does: a CloudEvent published by hand is delivered with its data intact.
        var deployed = CloudEvent.Create(source, "workload_deployed", DateTimeOffset.UtcNow, new WorkloadDeployedEvent { WorkloadName = "bob", Code = 0 }, NexJson.Context.WorkloadDeployedEvent, ns);
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(deployed, NexJson.Context.CloudEvent);
        await conn.PublishAsync("$NEX.events.someoneelse.workload_deployed", bytes, cancellationToken: Ct);
        await conn.PublishAsync($"$NEX.events.{ns}.workload_deployed", bytes, cancellationToken: Ct);
        await conn.PublishAsync("$NEX.events.system.heartbeat", Encoding.UTF8.GetBytes($"{{\"specversion\":\"1.0\",\"type\":\"heartbeat\",\"source\":\"{source}\",\"id\":\"1\",\"data\":{{\"alice\":1}}}}"), cancellationToken: Ct);
        await watching;

        Assert.Equal(2, received.Count);
        var first = received.Single(e => e.Type == "workload_deployed");
        Assert.Equal(ns, first.Namespace);
        Assert.Equal("bob", first.Event!.GetData(NexJson.Context.WorkloadDeployedEvent)!.WorkloadName);
        Assert.Equal("system", received.Single(e => e.Type == "heartbeat").Namespace);
    }

    [Fact]
    public async Task WatchLogs_FiltersByNodeWorkloadAndLevel_InBothSubjectOrders()
    {
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        var client = new NexClient(conn);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(10));
        var received = new List<NexLogLine>();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watching = Task.Run(async () =>
        {
            await foreach (var line in client.WatchLogsAsync(new LogFilter { NodeId = "Nxxxx", WorkloadName = "echoservice", MinLevel = "warn" }, stop.Token))
            {
                if (line.WorkloadId == "vmprobe")
                {
                    subscribed.TrySetResult();
                    continue;
                }

                received.Add(line);
                if (received.Count == 2)
                {
                    break;
                }
            }
        }, Ct);

        async Task Publish(string subject, string level, string text, string id) =>
            await conn.PublishAsync(subject, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new RawLog { Text = text, Level = level, Id = id }, NexJson.Context.RawLog), cancellationToken: Ct);

        await UntilSubscribedAsync(() => Publish("$NEX.logs.default.Nxxxx.echoservice.vmprobe", "ERROR", "probe", "vmprobe"), subscribed.Task);

        await Publish("$NEX.logs.default.Nxxxx.echoservice.vm1234", "INFO", "too quiet", "vm1234");
        await Publish("$NEX.logs.default.Nyyyy.echoservice.vm1234", "ERROR", "other node", "vm1234");
        await Publish("$NEX.logs.default.Nxxxx.otherservice.vm9", "ERROR", "other workload", "vm9");
        await Publish("$NEX.logs.default.Nxxxx.echoservice.vm1234", "WARN", "documented order", "vm1234");
        await Publish("$NEX.logs.default.Nxxxx.vm5678.echoservice", "ERROR", "0.2 agent order", "vm5678");
        await watching;

        Assert.Equal(["documented order", "0.2 agent order"], received.Select(r => r.Text));
        Assert.Equal("vm1234", received[0].WorkloadId);
        Assert.Equal("vm5678", received[1].WorkloadId);
        Assert.All(received, r => Assert.Equal("echoservice", r.WorkloadName));
        Assert.All(received, r => Assert.Equal("Nxxxx", r.NodeId));
    }

    // A watcher subscribes inside its enumerator, with nothing to await: publish a probe it skips until it has
    // seen one; everything published after that reaches it.
    private static async Task UntilSubscribedAsync(Func<Task> probe, Task subscribed)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        while (!subscribed.IsCompleted)
        {
            await probe();
            await Task.WhenAny(subscribed, Task.Delay(50, deadline.Token));
            deadline.Token.ThrowIfCancellationRequested();
        }
    }
}
