using System.Collections.Concurrent;
using System.Text;
using NATS.Client.Core;
using Nex.Node.Nats;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>
/// <c>hostServices</c> from JavaScript against a real nats-server, with a stand-in node answering on
/// <c>hostint.&lt;id&gt;.rpc.&gt;</c> that records headers and bodies and replies with <c>x-nex-hs-code</c>/<c>x-nex-hs-msg</c>.
/// </summary>
public sealed class V8HostServicesTests : IAsyncLifetime
{
    private const string AgentId = "hsagent";
    private readonly ConcurrentQueue<(string Subject, Dictionary<string, string> Headers, byte[] Body)> _calls = new();
    private NatsServerProcess? _server;
    private NatsConnection? _node;
    private NatsConnection? _agent;
    private INatsSub<byte[]>? _sub;
    private Task _responder = Task.CompletedTask;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = false });
        _node = new NatsConnection(NatsOpts.Default with { Url = _server.ClientUrl });
        _agent = new NatsConnection(NatsOpts.Default with { Url = _server.ClientUrl });
        await _node.ConnectAsync();
        await _agent.ConnectAsync();
        _sub = await _node.SubscribeCoreAsync<byte[]>($"hostint.{AgentId}.rpc.>");
        _responder = Task.Run(RespondAsync);
        await _node.PingAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_sub is not null)
        {
            await _sub.UnsubscribeAsync();
        }

        await _responder.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private async Task RespondAsync()
    {
        await foreach (var msg in _sub!.Msgs.ReadAllAsync())
        {
            var headers = msg.Headers?.ToDictionary(h => h.Key, h => h.Value.ToString()) ?? [];
            var body = msg.Data ?? [];
            _calls.Enqueue((msg.Subject, headers, body));
            var method = msg.Subject[(msg.Subject.LastIndexOf('.') + 1)..];
            var service = msg.Subject.Split('.')[^2];
            var (code, text, reply) = (service, method) switch
            {
                ("kv", "get") when headers.GetValueOrDefault(HostServicesProtocol.KeyHeader) == "missing" => (404, "no such key", Array.Empty<byte>()),
                ("kv", "get") => (200, "OK", new byte[] { 0, 0x80, 0xff, (byte)'k' }),
                ("kv", "keys") => (200, "OK", "[]"u8.ToArray()),
                ("messaging", "request") => (200, "OK", [.. body, 0xfe]),
                ("messaging", "requestMany") => (200, "OK", Encoding.UTF8.GetBytes($"[\"{Convert.ToBase64String([1, 2])}\",\"{Convert.ToBase64String([0xff])}\"]")),
                ("objectstore", "put") => (200, "OK", Encoding.UTF8.GetBytes($"{{\"name\":\"{headers.GetValueOrDefault(HostServicesProtocol.ObjectNameHeader)}\",\"size\":{body.Length}}}")),
                ("objectstore", "list") => (200, "OK", Array.Empty<byte>()),
                ("http", _) => (200, "OK", """{"status":201,"headers":{"X-A":["1","2"],"Content-Type":["text/plain"]},"body":"created"}"""u8.ToArray()),
                _ => (200, "OK", Array.Empty<byte>()),
            };
            await msg.ReplyAsync(reply, new NatsHeaders { [HostServicesProtocol.CodeHeader] = code.ToString(System.Globalization.CultureInfo.InvariantCulture), [HostServicesProtocol.MessageHeader] = text });
        }
    }

    private Task<V8Harness> StartAsync(string source) => V8Harness.StartAsync(source, Token, connection: _agent, agentId: AgentId);

    private (string Subject, Dictionary<string, string> Headers, byte[] Body) Call(string suffix) =>
        Assert.Single(_calls, c => c.Subject.EndsWith(suffix, StringComparison.Ordinal));

    [Fact]
    public async Task KeyValue_AllMethods_ExactBytes_Headers_AndEmptyKeys()
    {
        await using var fn = await StartAsync(
            """
            async (s, p) => {
              const v = await hostServices.kv.get('k1');
              await this.hostServices.kv.set('k2', new Uint8Array([0x80, 0, 0xff]));
              await hostServices.kv.delete('k3');
              const keys = await hostServices.kv.keys();
              return { v: Array.from(v), isU8: v instanceof Uint8Array, keys };
            }
            """);
        Assert.Equal("""{"v":[0,128,255,107],"isU8":true,"keys":[]}""", await fn.CallAsync("t", "", Token));
        Assert.Equal("hostint.hsagent.rpc.default.fn.kv.get", Call(".kv.get").Subject);
        Assert.Equal("k1", Call(".kv.get").Headers[HostServicesProtocol.KeyHeader]);
        Assert.Equal(new byte[] { 0x80, 0, 0xff }, Call(".kv.set").Body);
        Assert.Equal("k2", Call(".kv.set").Headers[HostServicesProtocol.KeyHeader]);
        Assert.Equal("k3", Call(".kv.delete").Headers[HostServicesProtocol.KeyHeader]);
        Assert.Empty(Call(".kv.keys").Body);
    }

    [Fact]
    public async Task Messaging_PublishRequestRequestMany()
    {
        await using var fn = await StartAsync(
            """
            async (s, p) => {
              await hostServices.messaging.publish('a.b', p);
              const r = await hostServices.messaging.request('c.d', new Uint8Array([1, 0x90]));
              const many = await hostServices.messaging.requestMany('e.f', new Uint8Array([7]));
              return { r: Array.from(r), many: many.map(m => Array.from(m)), u8: many[0] instanceof Uint8Array };
            }
            """);
        Assert.Equal("""{"r":[1,144,254],"many":[[1,2],[255]],"u8":true}""", await fn.CallAsync("t", "pay\u00e9", Token));
        Assert.Equal("a.b", Call(".messaging.publish").Headers[HostServicesProtocol.SubjectHeader]);
        Assert.Equal(Encoding.UTF8.GetBytes("pay\u00e9"), Call(".messaging.publish").Body);
        Assert.Equal("c.d", Call(".messaging.request").Headers[HostServicesProtocol.SubjectHeader]);
        Assert.Equal("e.f", Call(".messaging.requestMany").Headers[HostServicesProtocol.SubjectHeader]);
    }

    [Fact]
    public async Task ObjectStore_AndHttp()
    {
        await using var fn = await StartAsync(
            """
            async (s, p) => {
              const info = await hostServices.objectStore.put('obj', new Uint8Array([1, 2, 3]));
              const got = await hostServices.objectStore.get('obj');
              await hostServices.objectStore.delete('obj');
              const list = await hostServices.objectStore.list();
              const g = await hostServices.http.get('http://x/y?q=1', { headers: { Accept: 'text/plain' } });
              const post = await hostServices.http.post('http://x/p', new Uint8Array([9]));
              return { info, got: Array.from(got), list, g, post: post.status };
            }
            """);
        Assert.Equal(
            """{"info":{"name":"obj","size":3},"got":[],"list":[],"g":{"status":201,"headers":{"X-A":"1, 2","Content-Type":"text/plain"},"response":"created"},"post":201}""",
            await fn.CallAsync("t", "", Token));
        Assert.Equal("obj", Call(".objectstore.put").Headers[HostServicesProtocol.ObjectNameHeader]);
        Assert.Equal(new byte[] { 1, 2, 3 }, Call(".objectstore.put").Body);
        var get = Call(".http.get");
        Assert.Equal("http://x/y?q=1", get.Headers[HostServicesProtocol.UrlHeader]);
        Assert.Equal("""{"Accept":"text/plain"}""", get.Headers[HostServicesProtocol.HttpHeadersHeader]);
        Assert.Equal(new byte[] { 9 }, Call(".http.post").Body);
        Assert.False(Call(".http.post").Headers.ContainsKey(HostServicesProtocol.HttpHeadersHeader));
    }

    [Fact]
    public async Task ArgumentErrors_MarshalErrors_AndRpcErrors()
    {
        await using var fn = await StartAsync(
            """
            async (s, p) => {
              const errs = [];
              const t = async (f) => { try { await f(); errs.push('no error'); } catch (e) { errs.push(String(e)); } };
              await t(() => hostServices.kv.get());
              await t(() => hostServices.kv.set('k'));
              await t(() => hostServices.kv.set('k', 'text'));
              await t(() => hostServices.messaging.publish('x'));
              await t(() => hostServices.objectStore.get());
              await t(() => hostServices.objectStore.put('n'));
              await t(() => hostServices.http.get());
              await t(() => hostServices.kv.get('missing'));
              return errs;
            }
            """);
        var errors = System.Text.Json.JsonSerializer.Deserialize<string[]>(await fn.CallAsync("t", "", Token) ?? "null")!;
        Assert.Equal("Error: key is required", errors[0]);
        Assert.Equal("Error: key and value are required", errors[1]);
        Assert.StartsWith("Error: failed to marshal v8 value to []byte: ", errors[2], StringComparison.Ordinal);
        Assert.EndsWith("; only Uint8[] is supported", errors[2], StringComparison.Ordinal);
        Assert.Equal("Error: subject and payload are required", errors[3]);
        Assert.Equal("Error: name is required", errors[4]);
        Assert.Equal("Error: name and value are required", errors[5]);
        Assert.Equal("Error: url is required", errors[6]);
        Assert.Equal("Error: no such key (404)", errors[7]);
    }
}
