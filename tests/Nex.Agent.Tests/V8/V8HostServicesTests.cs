using System.Collections.Concurrent;
using System.Text;
using NATS.Client.Core;
using Nex.Agent.Providers.V8;
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
    private volatile bool _keys;

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
            if (headers.GetValueOrDefault(HostServicesProtocol.KeyHeader) == "slow")
            {
                continue; // never answered: the agent's 5 s wait outlives any short function timeout
            }

            var (code, text, reply) = (service, method) switch
            {
                ("kv", "get") when headers.GetValueOrDefault(HostServicesProtocol.KeyHeader) == "missing" => (404, "no such key", Array.Empty<byte>()),
                ("kv", "get") when headers.GetValueOrDefault(HostServicesProtocol.KeyHeader) == "hello2" => (200, "OK", "hello!"u8.ToArray()),
                ("kv", "get") => (200, "OK", new byte[] { 0, 0x80, 0xff, (byte)'k' }),
                ("kv", "keys") when _keys => (200, "OK", """["hello2"]"""u8.ToArray()),
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

    private Task<V8Harness> StartAsync(string source, V8Options? options = null) => V8Harness.StartAsync(source, Token, options, connection: _agent, agentId: AgentId);

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

    // Errors are thrown at the call with 0.2's messages: caught by try/catch with await (await-style code)
    // and without it (0.2 code, which must never see a Promise).
    [Theory]
    [InlineData("async ", "async (f) => { try { await f(); errs.push('no error'); } catch (e) { errs.push(String(e)); } }", "await ")]
    [InlineData("", "(f) => { try { errs.push(f() instanceof Promise ? 'a promise' : 'no error'); } catch (e) { errs.push(String(e)); } }", "")]
    public async Task ArgumentErrors_MarshalErrors_AndRpcErrors(string async, string probe, string wait)
    {
        await using var fn = await StartAsync(
            $$"""
            {{async}}(s, p) => {
              const errs = [];
              const t = {{probe}};
              {{wait}}t(() => hostServices.kv.get());
              {{wait}}t(() => hostServices.kv.set('k'));
              {{wait}}t(() => hostServices.kv.set('k', 'text'));
              {{wait}}t(() => hostServices.messaging.publish('x'));
              {{wait}}t(() => hostServices.objectStore.get());
              {{wait}}t(() => hostServices.objectStore.put('n'));
              {{wait}}t(() => hostServices.http.get());
              {{wait}}t(() => hostServices.kv.get('missing'));
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

    // The same calls as 0.2 wrote them: every method returns its value (spec §5.10), no await anywhere.
    [Fact]
    public async Task KeyValue_Synchronous_AsZeroTwo()
    {
        await using var fn = await StartAsync(
            """
            (s, p) => {
              const v = hostServices.kv.get('k1');
              const set = this.hostServices.kv.set('k2', new Uint8Array([0x80, 0, 0xff]));
              const del = hostServices.kv.delete('k3');
              const keys = hostServices.kv.keys();
              return { v: Array.from(v), isU8: v instanceof Uint8Array, keys, isArray: Array.isArray(keys), set: set === undefined, del: del === undefined };
            }
            """);
        Assert.Equal("""{"v":[0,128,255,107],"isU8":true,"keys":[],"isArray":true,"set":true,"del":true}""", await fn.CallAsync("t", "", Token));
        Assert.Equal(new byte[] { 0x80, 0, 0xff }, Call(".kv.set").Body);
        Assert.Equal("k3", Call(".kv.delete").Headers[HostServicesProtocol.KeyHeader]);
    }

    // Nex 0.2's own kv example (examples/js/kv.js keeps its host-service calls verbatim).
    [Fact]
    public async Task ZeroTwoKvExample_Verbatim()
    {
        _keys = true;
        var source = await File.ReadAllTextAsync(Path.Combine(Nex.Testing.Examples.RepositoryRoot, "examples", "js", "kv.js"), Token);
        Assert.Contains("String.fromCharCode(...this.hostServices.kv.get('hello2'))", source, StringComparison.Ordinal);
        Assert.Contains("keys: this.hostServices.kv.keys()", source, StringComparison.Ordinal);
        await using var fn = await StartAsync(source);
        Assert.Equal("""{"keys":["hello2"],"hello2":"hello!"}""", await fn.CallAsync("hellokvservice", "hello!", Token));
    }

    [Fact]
    public async Task Messaging_Synchronous_PublishRequestRequestMany()
    {
        await using var fn = await StartAsync(
            """
            (s, p) => {
              const pub = hostServices.messaging.publish('a.b', p);
              const r = hostServices.messaging.request('c.d', new Uint8Array([1, 0x90]));
              const many = hostServices.messaging.requestMany('e.f', new Uint8Array([7]));
              return { pub: pub === undefined, r: Array.from(r), u8: r instanceof Uint8Array, many: many.map(m => Array.from(m)) };
            }
            """);
        Assert.Equal("""{"pub":true,"r":[1,144,254],"u8":true,"many":[[1,2],[255]]}""", await fn.CallAsync("t", "pay", Token));
        Assert.Equal("a.b", Call(".messaging.publish").Headers[HostServicesProtocol.SubjectHeader]);
    }

    [Fact]
    public async Task ObjectStore_AndEveryHttpVerb_Synchronous()
    {
        await using var fn = await StartAsync(
            """
            (s, p) => {
              const os = this.hostServices.objectStore;
              const info = os.put('obj', new Uint8Array([1, 2, 3]));
              const got = os.get('obj');
              const del = os.delete('obj');
              const list = os.list();
              const h = hostServices.http;
              const body = new Uint8Array([9]);
              const verbs = {
                get: h.get('http://x/g'), post: h.post('http://x/p', body), put: h.put('http://x/u', body),
                patch: h.patch('http://x/a', body), delete: h.delete('http://x/d'), head: h.head('http://x/h'),
              };
              return { info, got: got instanceof Uint8Array, del: del === undefined, list, status: Object.values(verbs).map(v => v.status), g: verbs.get };
            }
            """);
        Assert.Equal(
            """{"info":{"name":"obj","size":3},"got":true,"del":true,"list":[],"status":[201,201,201,201,201,201],"g":{"status":201,"headers":{"X-A":"1, 2","Content-Type":"text/plain"},"response":"created"}}""",
            await fn.CallAsync("t", "", Token));
        Assert.Equal(new byte[] { 9 }, Call(".http.patch").Body);
        Assert.Empty(Call(".http.delete").Body);
        Assert.Equal("http://x/h", Call(".http.head").Headers[HostServicesProtocol.UrlHeader]);
    }

    // An uncaught host-service error fails the call with its message (500), as any exception does.
    [Fact]
    public async Task UncaughtHostServiceError_FailsTheCall()
    {
        await using var fn = await StartAsync("(s, p) => String.fromCharCode(...hostServices.kv.get('missing'))");
        var result = await fn.Provider.ExecuteAsync("t", default, Token);
        Assert.NotNull(result);
        Assert.Equal(FunctionErrors.Exception, result.ErrorCode);
        Assert.Contains("no such key (404)", result.Error, StringComparison.Ordinal);
    }

    // Top-level code runs when the context is prepared, before any call: it gets no host services.
    [Fact]
    public async Task TopLevelCode_HasNoHostServices()
    {
        await using var fn = await StartAsync(
            """
            let early;
            try { hostServices.kv.get('k1'); early = 'no error'; } catch (e) { early = String(e); }
            (s, p) => early
            """);
        Assert.Equal("\"Error: host services are only available while the function runs\"", await fn.CallAsync("t", "", Token));
        Assert.DoesNotContain(_calls, c => c.Subject.EndsWith(".kv.get", StringComparison.Ordinal));
    }

    // V8's interrupt cannot reach a thread blocked in the host: the deadline must end the wait itself.
    [Theory]
    [InlineData("(s, p) => hostServices.kv.get('slow')")]
    [InlineData("async (s, p) => { try { await hostServices.kv.get('slow'); } catch (e) { } while (true) { } }")]
    public async Task HostCallOutlivingTheTimeout_Answers408Promptly(string source)
    {
        var timeout = TimeSpan.FromMilliseconds(300);
        await using var fn = await StartAsync(source, new V8Options { Timeout = timeout });
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await fn.Provider.ExecuteAsync("t", default, Token);
        watch.Stop();
        Assert.NotNull(result);
        Assert.Equal(FunctionErrors.Timeout, result.ErrorCode);
        Assert.Equal(V8Invocation.TimeoutMessage(timeout), result.Error);

        // The agent's own host-service wait is 5 s: far below it means the deadline ended the wait.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"answered after {watch.Elapsed}");

        // The lane is usable afterwards.
        Assert.Equal(FunctionErrors.Timeout, (await fn.Provider.ExecuteAsync("t", default, Token))!.ErrorCode);
    }

    [Fact]
    public async Task StopDuringABlockedHostCall_DoesNotHang()
    {
        var fn = await StartAsync("(s, p) => hostServices.kv.get('slow')", new V8Options { Timeout = TimeSpan.FromSeconds(60) });
        var call = fn.Provider.ExecuteAsync("t", default, Token);
        await WaitForAsync(() => _calls.Any(c => c.Headers.GetValueOrDefault(HostServicesProtocol.KeyHeader) == "slow"));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await fn.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), Token);
        var result = await call.WaitAsync(TimeSpan.FromSeconds(10), Token);
        Assert.True(result is null || result.Error is not null);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"stopped after {watch.Elapsed}");
    }

    // dependencies §4: blocking inside the engine deadlocks only if something waited for needs the engine.
    // Many runtimes (3 functions × 3 lanes), each blocked in host calls at once, all finish.
    [Fact]
    public async Task ManyConcurrentSynchronousCalls_AcrossRuntimes_AllAnswer()
    {
        const string source = """
            (s, p) => {
              let sum = 0;
              for (let i = 0; i < 5; i++) sum += hostServices.kv.get('k' + i).length;
              hostServices.messaging.publish('x.y', p);
              return { s, sum, echo: Array.from(hostServices.messaging.request('r.s', p)) };
            }
            """;
        var functions = new List<V8Harness>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                functions.Add(await StartAsync(source));
            }

            var calls = Enumerable.Range(0, 60).Select(i => functions[i % 3].CallAsync($"s{i}", "\u0001", Token)).ToArray();
            var results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60), Token);
            for (var i = 0; i < results.Length; i++)
            {
                Assert.Equal($$"""{"s":"s{{i}}","sum":20,"echo":[1,254]}""", results[i]);
            }
        }
        finally
        {
            foreach (var function in functions)
            {
                await function.DisposeAsync();
            }
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
