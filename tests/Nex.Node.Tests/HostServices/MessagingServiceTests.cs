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

    [Fact]
    public async Task SystemSubjects_AreRefused_ForPublishRequestAndRequestMany_AndOtherBucketsStayIntact()
    {
        // Another workload's bucket, with a value in it, on the same server and connection.
        var victim = NewCaller(ns: "ns" + Guid.NewGuid().ToString("N")[..6], name: "victim");
        var victimHs = await CreateAsync(victim);
        AssertOk(await Call(victimHs, HostServicesProtocol.Kv, "set", Headers((HostServicesProtocol.KeyHeader, "secret")), "s3cret"u8.ToArray()));
        var bucket = $"hs_{victim.Namespace}_{victim.WorkloadName}_kv";

        var hs = await CreateAsync(NewCaller(ns: victim.Namespace));
        var attacks = new (string Method, string Subject, byte[] Body)[]
        {
            ("request", $"$JS.API.DIRECT.GET.KV_{bucket}", System.Text.Encoding.UTF8.GetBytes($$"""{"last_by_subj":"$KV.{{bucket}}.secret"}""")),
            ("request", $"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.secret", []),
            ("publish", $"$KV.{bucket}.secret", "overwritten"u8.ToArray()),
            ("request", $"$KV.{bucket}.secret", "overwritten"u8.ToArray()),
            ("request", "$JS.API.STREAM.NAMES", []),
            ("requestMany", "$JS.API.STREAM.NAMES", []),
            ("request", "$JS.API.STREAM.DELETE.KV_" + bucket, []),
            ("request", "$NEX.LAMEDUCK.NODE", []),
            ("requestMany", "$NEX.PING", []),
            ("request", "$SYS.REQ.SERVER.PING.CONNZ", []),
            ("publish", "$O.x.M.y", []),
            ("publish", "_INBOX.x", []),
        };
        foreach (var (method, subject, body) in attacks)
        {
            var r = await Call(hs, Messaging, method, Subject(subject), body);
            Assert.True(r.Code == 403, $"{method} {subject}: {r.Code} {r.Message}");
            Assert.Equal($"messaging: subject '{subject}' is not allowed for workloads", r.Message);
        }

        foreach (var method in new[] { "publish", "request", "requestMany" })
        {
            var r = await Call(hs, Messaging, method, Subject("$KV.>"), []);
            Assert.Equal((400, "messaging: subject '$KV.>' must not contain wildcards"), (r.Code, r.Message));
        }

        var value = await Call(victimHs, HostServicesProtocol.Kv, "get", Headers((HostServicesProtocol.KeyHeader, "secret")));
        AssertOk(value);
        Assert.Equal("s3cret", Text(value));
    }

    [Fact]
    public async Task ConfiguredAllowAndDeny_AreApplied()
    {
        var prefix = NewSubject();
        var hs = await CreateAsync(config: WithService(Messaging, configJson: $$"""{"allow":["{{prefix}}.>"],"deny":["{{prefix}}.private.>"]}"""));
        await using var open = await Responder(prefix + ".open", "yes"u8.ToArray());
        await using var closed = await Responder(prefix + ".private.x", "leak"u8.ToArray());
        await using var outside = await Responder(NewSubject(), "leak"u8.ToArray());

        var ok = await Call(hs, Messaging, "request", Subject(prefix + ".open"), []);
        AssertOk(ok);
        Assert.Equal("yes", Text(ok));
        Assert.Equal(403, (await Call(hs, Messaging, "request", Subject(prefix + ".private.x"), [])).Code);
        Assert.Equal(403, (await Call(hs, Messaging, "publish", Subject("elsewhere"), [])).Code);
        Assert.Equal(403, (await Call(hs, Messaging, "requestMany", Subject("elsewhere"), [])).Code);
    }

    [Fact]
    public async Task MalformedPermissions_RefuseToBuildTheServices_WithOneLine()
    {
        var ex = await Assert.ThrowsAsync<Nex.Nats.NatsConnectException>(() => CreateAsync(config: WithService(Messaging, configJson: """{"deny":"foo"}""")));
        Assert.Equal("host_services.services.messaging.config: deny must be an array of strings", ex.Message);
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
