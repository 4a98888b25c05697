using NATS.Client.Core;
using Nex.Nats;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

/// <summary>What the log feed reads beside the 0.2 body: the node's name and time headers.</summary>
public sealed class NexClientFeedsTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WatchLogsWithNotices_ReadsNodeNameAndTimeHeaders_AndFallsBackWithoutThem()
    {
        var ns = "ns" + Guid.NewGuid().ToString("N")[..8];
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, Ct);
        var client = new NexClient(conn, new NexClientOptions { Namespace = ns });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(15));
        var sent = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234567);
        var received = new List<NexLogLine>();
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watching = Task.Run(async () =>
        {
            await foreach (var (line, notice) in client.WatchLogsWithNoticesAsync(cancellationToken: stop.Token))
            {
                Assert.Null(notice);
                if (line!.Text == "probe")
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

        var subject = $"$NEX.logs.{ns}.Nnode.echo.vm1";
        byte[] Body(string text) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new RawLog { Text = text, Level = "INFO", Id = "vm1" }, NexJson.Context.RawLog);
        while (!subscribed.Task.IsCompleted)
        {
            await conn.PublishAsync(subject, Body("probe"), cancellationToken: Ct);
            await Task.WhenAny(subscribed.Task, Task.Delay(50, stop.Token));
        }

        var headers = new NatsHeaders { [LogHeaders.NodeName] = "quick-gecko", [LogHeaders.Time] = LogHeaders.FormatTime(sent) };
        await conn.PublishAsync(subject, Body("with headers"), headers, cancellationToken: Ct);
        var before = DateTimeOffset.UtcNow;
        await conn.PublishAsync(subject, Body("as 0.2 sends it"), cancellationToken: Ct);
        await watching;

        Assert.Equal("quick-gecko", received[0].NodeName);
        Assert.Equal(sent, received[0].Time);
        Assert.Null(received[1].NodeName);
        Assert.Equal(received[1].Received, received[1].Time);
        Assert.True(received[1].Time >= before.AddSeconds(-1));
    }
}
