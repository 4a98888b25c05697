using System.Diagnostics;
using NATS.Client.Core;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>The messaging host service (spec §6.3, §6.4, §11 #11).</summary>
public sealed class MessagingServiceTests(NatsServerFixture nats) : HostServicesTestBase(nats)
{
    private const string Messaging = HostServicesProtocol.Messaging;

    private static string NewSubject() => "hs.test." + Guid.NewGuid().ToString("N");

    private static Dictionary<string, string> Subject(string subject) => Headers((HostServicesProtocol.SubjectHeader, subject));

    [Fact]
    public async Task Publish_IsReceived()
    {
        var hs = await CreateAsync();
        var subject = NewSubject();
        await using var sub = await Main.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        await Main.PingAsync(Ct);

        var r = await Call(hs, Messaging, "publish", Subject(subject), [1, 2, 3]);
        AssertOk(r);
        Assert.True(Json(r).GetProperty("success").GetBoolean());

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var msg = await sub.Msgs.ReadAsync(timeout.Token);
        Assert.Equal([1, 2, 3], msg.Data);
    }

    [Fact]
    public async Task Publish_WithoutSubject_Is400()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Messaging, "publish", body: [1]);
        Assert.Equal(400, r.Code);
        Assert.Equal("subject is required", r.Message);
    }

    [Fact]
    public async Task UnknownMethod_Is400()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Messaging, "subscribe", Subject("x"));
        Assert.Equal(400, r.Code);
    }

    [Fact]
    public async Task Request_IsAnswered()
    {
        var hs = await CreateAsync();
        var subject = NewSubject();
        await using var responder = await Responder(subject, "pong"u8.ToArray());

        var r = await Call(hs, Messaging, "request", Subject(subject), "ping"u8.ToArray());
        AssertOk(r);
        Assert.Equal("pong", Text(r));
    }

    [Fact]
    public async Task Request_NoResponders_Is500WithRealReason()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Messaging, "request", Subject(NewSubject()), [1]);
        Assert.Equal(500, r.Code);
        Assert.Contains("no responders", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_DefaultTimeoutIs750ms()
    {
        var hs = await CreateAsync();
        var subject = NewSubject();
        // A subscriber that never answers: the request times out instead of "no responders".
        await using var silent = await Main.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        await Main.PingAsync(Ct);

        var watch = Stopwatch.StartNew();
        var r = await Call(hs, Messaging, "request", Subject(subject), [1]);
        watch.Stop();
        Assert.Equal(500, r.Code);
        Assert.Contains("no reply", r.Message, StringComparison.Ordinal);
        Assert.InRange(watch.ElapsedMilliseconds, 600, 3000);
    }

    [Fact]
    public async Task Request_ConfiguredTimeout_IsUsed()
    {
        var hs = await CreateAsync(config: WithService(Messaging, configJson: "{\"request_timeout_ms\":200}"));
        var subject = NewSubject();
        await using var silent = await Main.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        await Main.PingAsync(Ct);

        var watch = Stopwatch.StartNew();
        var r = await Call(hs, Messaging, "request", Subject(subject), [1]);
        Assert.Equal(500, r.Code);
        Assert.InRange(watch.ElapsedMilliseconds, 100, 600);
    }

    [Fact]
    public async Task RequestMany_CollectsEveryResponder()
    {
        var hs = await CreateAsync();
        var subject = NewSubject();
        await using var one = await Responder(subject, "one"u8.ToArray());
        await using var two = await Responder(subject, "two"u8.ToArray());

        var r = await Call(hs, Messaging, "requestMany", Subject(subject), [0]);
        AssertOk(r);
        var replies = Json(r).EnumerateArray().Select(e => System.Text.Encoding.UTF8.GetString(e.GetBytesFromBase64())).Order().ToArray();
        Assert.Equal(["one", "two"], replies);
    }

    [Fact]
    public async Task RequestMany_MaxMessagesHeader_Caps()
    {
        var hs = await CreateAsync();
        var subject = NewSubject();
        await using var one = await Responder(subject, "one"u8.ToArray());
        await using var two = await Responder(subject, "two"u8.ToArray());

        var headers = Subject(subject);
        headers["x-max-messages"] = "1";
        var watch = Stopwatch.StartNew();
        var r = await Call(hs, Messaging, "requestMany", headers, [0]);
        AssertOk(r);
        Assert.Single(Json(r).EnumerateArray());
        Assert.True(watch.ElapsedMilliseconds < 700, $"took {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task RequestMany_NoResponders_Is500()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Messaging, "requestMany", Subject(NewSubject()), [0]);
        Assert.Equal(500, r.Code);
        Assert.Contains("no responders", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestMany_BadMaxMessages_Is400()
    {
        var hs = await CreateAsync();
        var headers = Subject(NewSubject());
        headers["x-max-messages"] = "lots";
        Assert.Equal(400, (await Call(hs, Messaging, "requestMany", headers, [0])).Code);
    }

    private async Task<Responder> Responder(string subject, byte[] reply)
    {
        var sub = await Main.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        var loop = Task.Run(async () =>
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync())
            {
                await msg.ReplyAsync(reply);
            }
        });
        await Main.PingAsync(Ct);
        return new Responder(sub, loop);
    }
}

internal sealed class Responder(INatsSub<byte[]> sub, Task loop) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await sub.UnsubscribeAsync();
        await sub.DisposeAsync();
        await loop;
    }
}
