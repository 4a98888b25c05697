using System.Net;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Functions;

/// <summary>
/// Every host service method from JavaScript and from WebAssembly, through the whole stack:
/// function → agent → node → a real JetStream server (KV, object store, messaging) or a local
/// HTTP server (spec §6, the V8 scenarios of §12.1); and what a function must not reach through them
/// (issue 15): system subjects, loopback addresses other than the one HTTP server the node allow-lists.
/// </summary>
public sealed class HostServicesEndToEndTests(NatsServerFixture nats) : IAsyncLifetime
{
    // A JavaScript probe: the payload names a call ({service, method, args}); byte arguments are {bytes: "text"}.
    private const string JsProbe = """
        async (subject, payload) => {
          const enc = (s) => new Uint8Array([...unescape(encodeURIComponent(s))].map((c) => c.charCodeAt(0)));
          const dec = (u8) => decodeURIComponent(escape(String.fromCharCode(...u8)));
          const req = JSON.parse(dec(payload));
          const args = req.args.map((a) => (a !== null && typeof a === 'object' && 'bytes' in a ? enc(a.bytes) : a));
          try {
            const r = await hostServices[req.service][req.method](...args);
            if (r instanceof Uint8Array) return { ok: dec(r) };
            if (Array.isArray(r) && r.length > 0 && r[0] instanceof Uint8Array) return { ok: r.map(dec) };
            return { ok: r === undefined ? null : r };
          } catch (e) {
            return { error: String(e) };
          }
        }
        """;

    private TestNode _node = null!;
    private string _js = null!;
    private string _wasm = null!;
    private HttpListener _http = null!;
    private string _httpUrl = null!;
    private Task _httpLoop = Task.CompletedTask;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        StartHttpServer();

        // Loopback is refused by default: the node opens exactly this test's HTTP server.
        var http = new Nex.Node.Config.HostServiceSettings { Config = JsonDocument.Parse($$"""{"allow":["127.0.0.1:{{new Uri(_httpUrl).Port}}"]}""").RootElement.Clone() };
        var services = new Dictionary<string, Nex.Node.Config.HostServiceSettings>(Nex.Node.Config.HostServicesConfig.Default.Services) { ["http"] = http };
        _node = await TestNode.StartAsync(nats.Url, c => c with
        {
            WorkloadTypes = ["native", "v8", "wasm"],
            MachinePoolSize = 2,
            HostServices = Nex.Node.Config.HostServicesConfig.Default with { Services = services },
        });
        _js = FunctionTests.Unique("probe.js");
        _wasm = FunctionTests.Unique("probe.wasm");
        await FunctionTests.DeployFunctionAsync(_node, "v8", Encoding.UTF8.GetBytes(JsProbe), "jsprobe", _js);
        var wasm = Path.Combine(Examples.RepositoryRoot, "examples", "wasm", "hostcall", "build", "hostcall.wasm");
        await FunctionTests.DeployFunctionAsync(_node, "wasm", await File.ReadAllBytesAsync(wasm), "wasmprobe", _wasm);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Close(); // not Stop then Close: see LocalHttpServer.DisposeAsync
        await _httpLoop.ContinueWith(_ => { }, TaskScheduler.Default);
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }

    private async Task<JsonElement> Js(string service, string method, params object?[] args)
    {
        var request = JsonSerializer.Serialize(new Dictionary<string, object?> { ["service"] = service, ["method"] = method, ["args"] = args }, ProbeJson.Default.DictionaryStringObject);
        var reply = await _node.Connection.RequestAsync<byte[], byte[]>(_js, Encoding.UTF8.GetBytes(request), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);
        return JsonDocument.Parse(reply.Data!).RootElement.Clone();
    }

    private async Task<(int Code, string Result)> Wasm(string service, string method, string headers, string body = "")
    {
        var reply = await _node.Connection.RequestAsync<byte[], byte[]>(_wasm, Encoding.UTF8.GetBytes($"{service}\n{method}\n{headers}\n{body}"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);
        var text = Encoding.UTF8.GetString(reply.Data!);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return (int.Parse(text[..colon], System.Globalization.CultureInfo.InvariantCulture), text[(colon + 1)..]);
    }

    private static Dictionary<string, string> Bytes(string text) => new Dictionary<string, string> { ["bytes"] = text };

    [Fact]
    public async Task KeyValue_FromJavaScript()
    {
        Assert.Equal(JsonValueKind.Null, (await Js("kv", "set", "k1", Bytes("välue"))).GetProperty("ok").ValueKind);
        Assert.Equal("välue", (await Js("kv", "get", "k1")).GetProperty("ok").GetString());
        Assert.Contains("k1", (await Js("kv", "keys")).GetProperty("ok").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Null, (await Js("kv", "delete", "k1")).GetProperty("ok").ValueKind);
        Assert.Contains("(404)", (await Js("kv", "get", "k1")).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("Error: key is required", (await Js("kv", "get")).GetProperty("error").GetString());
    }

    [Fact]
    public async Task KeyValue_FromWebAssembly_InItsOwnBucket()
    {
        Assert.Equal(200, (await Wasm("kv", "set", """{"x-keyvalue-key":"w1"}""", "wasm value")).Code);
        Assert.Equal((200, "wasm value"), await Wasm("kv", "get", """{"x-keyvalue-key":"w1"}"""));
        Assert.Contains("\"w1\"", (await Wasm("kv", "keys", "")).Result, StringComparison.Ordinal);
        Assert.Equal(200, (await Wasm("kv", "delete", """{"x-keyvalue-key":"w1"}""")).Code);
        Assert.Equal(404, (await Wasm("kv", "get", """{"x-keyvalue-key":"w1"}""")).Code);

        // Buckets follow the node's record of each workload: the JS probe cannot see this key.
        Assert.Equal(200, (await Wasm("kv", "set", """{"x-keyvalue-key":"mine"}""", "x")).Code);
        Assert.Contains("(404)", (await Js("kv", "get", "mine")).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ObjectStore_FromJavaScript_AndWebAssembly()
    {
        var info = (await Js("objectStore", "put", "o1", Bytes("object bytes"))).GetProperty("ok");
        Assert.Equal("o1", info.GetProperty("name").GetString());
        Assert.Equal(12, info.GetProperty("size").GetInt32());
        Assert.Equal("object bytes", (await Js("objectStore", "get", "o1")).GetProperty("ok").GetString());
        Assert.Contains("o1", (await Js("objectStore", "list")).GetProperty("ok").EnumerateArray().Select(e => e.GetProperty("name").GetString()));
        Assert.Equal(JsonValueKind.Null, (await Js("objectStore", "delete", "o1")).GetProperty("ok").ValueKind);
        Assert.Contains("(404)", (await Js("objectStore", "get", "o1")).GetProperty("error").GetString(), StringComparison.Ordinal);

        Assert.Equal(200, (await Wasm("objectstore", "put", """{"x-object-name":"w2"}""", "from wasm")).Code);
        Assert.Equal((200, "from wasm"), await Wasm("objectstore", "get", """{"x-object-name":"w2"}"""));
        Assert.Contains("\"w2\"", (await Wasm("objectstore", "list", "")).Result, StringComparison.Ordinal);
        Assert.Equal(200, (await Wasm("objectstore", "delete", """{"x-object-name":"w2"}""")).Code);
        Assert.Equal(404, (await Wasm("objectstore", "get", """{"x-object-name":"w2"}""")).Code);
    }

    [Fact]
    public async Task Messaging_FromJavaScript_AndWebAssembly()
    {
        var subject = FunctionTests.Unique("hs.msg");
        await using var published = await _node.Connection.SubscribeCoreAsync<byte[]>(subject + ".pub", cancellationToken: Ct);
        await using var responderA = await _node.Connection.SubscribeCoreAsync<byte[]>(subject + ".req", cancellationToken: Ct);
        await using var responderB = await _node.Connection.SubscribeCoreAsync<byte[]>(subject + ".req", cancellationToken: Ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var answering = Task.WhenAll(Answer(responderA, "a"), Answer(responderB, "b"));
        await _node.Connection.PingAsync(Ct);

        Assert.Equal(JsonValueKind.Null, (await Js("messaging", "publish", subject + ".pub", Bytes("hi from js"))).GetProperty("ok").ValueKind);
        Assert.Equal("hi from js", Encoding.UTF8.GetString((await published.Msgs.ReadAsync(Ct)).Data!));
        Assert.StartsWith("resp ", (await Js("messaging", "request", subject + ".req", Bytes("q"))).GetProperty("ok").GetString(), StringComparison.Ordinal);
        var many = (await Js("messaging", "requestMany", subject + ".req", Bytes("q"))).GetProperty("ok").EnumerateArray().Select(e => e.GetString()).Order().ToList();
        Assert.Equal(["resp a: q", "resp b: q"], many);

        Assert.Equal(200, (await Wasm("messaging", "publish", $$"""{"x-subject":"{{subject}}.pub"}""", "hi from wasm")).Code);
        Assert.Equal("hi from wasm", Encoding.UTF8.GetString((await published.Msgs.ReadAsync(Ct)).Data!));
        var (code, reply) = await Wasm("messaging", "request", $$"""{"x-subject":"{{subject}}.req"}""", "w");
        Assert.Equal(200, code);
        Assert.StartsWith("resp ", reply, StringComparison.Ordinal);
        var (manyCode, manyReplies) = await Wasm("messaging", "requestMany", $$"""{"x-subject":"{{subject}}.req"}""", "w");
        Assert.Equal(200, manyCode);
        Assert.Equal(2, JsonDocument.Parse(manyReplies).RootElement.GetArrayLength());
        await stop.CancelAsync();

        async Task Answer(INatsSub<byte[]> sub, string who)
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync(stop.Token))
                {
                    await msg.ReplyAsync(Encoding.UTF8.GetBytes($"resp {who}: {Encoding.UTF8.GetString(msg.Data!)}"), cancellationToken: Ct);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    [Fact]
    public async Task Http_EveryVerb_WithHeadersAndQuery_FromJavaScript_AndWebAssembly()
    {
        var url = _httpUrl + "path/x?q=1";
        var options = new Dictionary<string, object> { ["headers"] = new Dictionary<string, string> { ["x-test"] = "yes" } };
        var get = (await Js("http", "get", url, options)).GetProperty("ok");
        Assert.Equal(200, get.GetProperty("status").GetInt32());
        Assert.Equal("GET /path/x?q=1 x-test=yes", get.GetProperty("response").GetString());
        Assert.Equal(201, (await Js("http", "post", url, Bytes("posted"))).GetProperty("ok").GetProperty("status").GetInt32());
        Assert.Equal(204, (await Js("http", "put", url, Bytes("put"))).GetProperty("ok").GetProperty("status").GetInt32());
        Assert.Equal(204, (await Js("http", "patch", url, Bytes("patch"))).GetProperty("ok").GetProperty("status").GetInt32());
        Assert.Equal(204, (await Js("http", "delete", url)).GetProperty("ok").GetProperty("status").GetInt32());
        var head = (await Js("http", "head", url)).GetProperty("ok");
        Assert.Equal(200, head.GetProperty("status").GetInt32());
        Assert.False(head.TryGetProperty("response", out var body) && body.ValueKind == JsonValueKind.String && body.GetString()!.Length > 0);

        foreach (var (verb, status) in new[] { ("get", 200), ("post", 201), ("put", 204), ("patch", 204), ("delete", 204), ("head", 200) })
        {
            var (code, result) = await Wasm("http", verb, $$"""{"x-http-url":"{{url}}","x-http-headers":"{\"x-test\":\"wasm\"}"}""", "b");
            Assert.Equal(200, code);
            Assert.Equal(status, JsonDocument.Parse(result).RootElement.GetProperty("status").GetInt32());
        }
    }

    [Fact]
    public async Task Messaging_SystemSubjects_AreRefused_FromJavaScript_AndWebAssembly()
    {
        // The WASM probe's bucket holds a value the JS probe must neither read nor overwrite.
        const string bucket = "hs_default_wasmprobe_kv";
        Assert.Equal(200, (await Wasm("kv", "set", """{"x-keyvalue-key":"mine"}""", "wasm secret")).Code);

        var attacks = new (string Method, string Subject, string Body)[]
        {
            ("request", $"$JS.API.DIRECT.GET.KV_{bucket}", $$"""{"last_by_subj":"$KV.{{bucket}}.mine"}"""),
            ("publish", $"$KV.{bucket}.mine", "overwritten"),
            ("request", "$JS.API.STREAM.NAMES", ""),
            ("requestMany", "$JS.API.STREAM.NAMES", ""),
            ("request", $"$NEX.LAMEDUCK.{_node.NodeId}", ""),
            ("publish", "_INBOX.x", "x"),
        };
        foreach (var (method, subject, body) in attacks)
        {
            var error = (await Js("messaging", method, subject, Bytes(body))).GetProperty("error").GetString();
            Assert.Contains($"messaging: subject '{subject}' is not allowed for workloads", error, StringComparison.Ordinal);
        }

        Assert.Contains("must not contain wildcards", (await Js("messaging", "publish", "$KV.>", Bytes("x"))).GetProperty("error").GetString(), StringComparison.Ordinal);
        var (code, message) = await Wasm("messaging", "request", """{"x-subject":"$JS.API.STREAM.NAMES"}""");
        Assert.Equal(403, code);
        Assert.Equal("messaging: subject '$JS.API.STREAM.NAMES' is not allowed for workloads (403)", message);

        // Nothing happened: the value is intact and the node is not in lame duck.
        Assert.Equal((200, "wasm secret"), await Wasm("kv", "get", """{"x-keyvalue-key":"mine"}"""));
        var ping = await _node.Client.PingNodeAsync(_node.NodeId, Ct);
        Assert.NotEqual("true", ping.Tags!.GetValueOrDefault("nex.lameduck"));
    }

    [Fact]
    public async Task Http_Loopback_IsRefused_FromJavaScript_AndWebAssembly_ExceptTheAllowListedServer()
    {
        var natsPort = new Uri(nats.Url).Port;
        var url = $"http://127.0.0.1:{natsPort}/connz";
        var expected = $"http: destination 127.0.0.1:{natsPort} is not allowed for workloads (loopback address)";
        Assert.Contains(expected, (await Js("http", "get", url)).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains("(loopback address)", (await Js("http", "get", $"http://localhost:{natsPort}/")).GetProperty("error").GetString(), StringComparison.Ordinal);
        var (code, message) = await Wasm("http", "get", $$"""{"x-http-url":"{{url}}"}""");
        Assert.Equal(403, code);
        Assert.Equal(expected + " (403)", message);

        Assert.Equal(200, (await Js("http", "get", _httpUrl + "open")).GetProperty("ok").GetProperty("status").GetInt32());
    }

    // The examples in 0.2's synchronous style (kv.js is Nex 0.2's own example) and as an ES module using await.
    [Fact]
    public async Task SpecSuiteScenarios_ThroughTheJsExamples()
    {
        var kv = await DeployExampleAsync("kv.js", "kvjs", "hellokvservice");
        var json = await RequestJsonAsync(kv, "hello!");
        Assert.Equal(["hello2"], json.GetProperty("keys").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("hello!", json.GetProperty("hello2").GetString());

        var objects = await DeployExampleAsync("objectstore.js", "objectstorejs", "helloobjectstore");
        json = await RequestJsonAsync(objects, "hellö!");
        Assert.Equal(["hello2"], json.GetProperty("list").EnumerateArray().Select(e => e.GetProperty("name").GetString()));
        Assert.Equal("hellö!", json.GetProperty("hello2").GetString());

        // messaging.js requests hello.world.request: the echo example answers it.
        await DeployExampleAsync("echo.js", "echojs", "hello.world.request");
        var messaging = await DeployExampleAsync("messaging.js", "messagingjs", "hellomessaging");
        json = await RequestJsonAsync(messaging, "hi");
        Assert.Equal("""{"triggered_on":"hello.world.request","payload":"hi"}""", json.GetProperty("hello.world.request").GetString());

        var http = await DeployExampleAsync("http.js", "httpjs", "hellohttp");
        json = await RequestJsonAsync(http, _httpUrl + "x");
        Assert.Equal(
            ["get:200", "post:201", "put:204", "patch:204", "delete:204", "head:200"],
            json.EnumerateObject().Select(p => $"{p.Name}:{(p.Value.ValueKind == JsonValueKind.Object ? p.Value.GetProperty("status").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture) : p.Value.GetString())}"));

        var module = await DeployExampleAsync("echo-module.js", "echomodulejs", "hellomodule");
        json = await RequestJsonAsync(module, "hello world");
        Assert.Equal("hello world", json.GetProperty("payload").GetString());
        Assert.True(json.GetProperty("module").GetBoolean());
    }

    // Every method in 0.2's synchronous style through the whole stack (the probe above awaits them).
    [Fact]
    public async Task EveryMethod_Synchronous_FromJavaScript()
    {
        const string source = """
            (subject, payload) => {
              const hs = this.hostServices;
              const u8 = (s) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
              const str = (b) => String.fromCharCode(...b);
              const out = {};
              hs.kv.set('a', u8('1'));
              hs.kv.set('b', u8('2'));
              hs.kv.delete('b');
              out.kv = { a: str(hs.kv.get('a')), keys: hs.kv.keys() };
              try { hs.kv.get('b'); } catch (e) { out.kvMissing = String(e); }
              const info = hs.objectStore.put('o', u8('obj'));
              out.os = { size: info.size, got: str(hs.objectStore.get('o')), list: hs.objectStore.list().map((o) => o.name) };
              hs.objectStore.delete('o');
              try { hs.objectStore.get('o'); } catch (e) { out.osMissing = String(e); }
              out.pub = hs.messaging.publish(subject + '.pub', payload) === undefined;
              out.reply = str(hs.messaging.request(subject + '.req', u8('q')));
              const url = str(payload);
              out.http = ['get', 'post', 'put', 'patch', 'delete', 'head'].map((m) => hs.http[m](url).status);
              return out;
            }
            """;
        var subject = FunctionTests.Unique("syncjs");
        await FunctionTests.DeployFunctionAsync(_node, "v8", Encoding.UTF8.GetBytes(source), "syncjs", subject);
        await using var responder = await _node.Connection.SubscribeCoreAsync<byte[]>(subject + ".req", cancellationToken: Ct);
        var answer = Task.Run(async () =>
        {
            await foreach (var msg in responder.Msgs.ReadAllAsync(Ct))
            {
                await msg.ReplyAsync("answer"u8.ToArray(), cancellationToken: Ct);
                return;
            }
        }, Ct);
        await using var published = await _node.Connection.SubscribeCoreAsync<byte[]>(subject + ".pub", cancellationToken: Ct);
        await _node.Connection.PingAsync(Ct);

        var json = await RequestJsonAsync(subject, _httpUrl + "s");
        Assert.Equal("1", json.GetProperty("kv").GetProperty("a").GetString());
        Assert.Equal(["a"], json.GetProperty("kv").GetProperty("keys").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("Error: key not found: b (404)", json.GetProperty("kvMissing").GetString());
        Assert.Equal(3, json.GetProperty("os").GetProperty("size").GetInt32());
        Assert.Equal("obj", json.GetProperty("os").GetProperty("got").GetString());
        Assert.Equal(["o"], json.GetProperty("os").GetProperty("list").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("Error: object not found: o (404)", json.GetProperty("osMissing").GetString());
        Assert.True(json.GetProperty("pub").GetBoolean());
        Assert.Equal("answer", json.GetProperty("reply").GetString());
        Assert.Equal([200, 201, 204, 204, 204, 200], json.GetProperty("http").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(_httpUrl + "s", Encoding.UTF8.GetString((await published.Msgs.ReadAsync(Ct)).Data!));
        await answer;
    }

    private async Task<string> DeployExampleAsync(string file, string name, string trigger)
    {
        var subject = FunctionTests.Unique(trigger);
        await FunctionTests.DeployFunctionAsync(_node, "v8", await File.ReadAllBytesAsync(Path.Combine(Examples.RepositoryRoot, "examples", "js", file), Ct), name, trigger == "hello.world.request" ? trigger : subject);
        return trigger == "hello.world.request" ? trigger : subject;
    }

    private async Task<JsonElement> RequestJsonAsync(string subject, string payload)
    {
        var reply = await _node.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);
        Assert.NotNull(reply.Data);
        return JsonDocument.Parse(reply.Data).RootElement.Clone();
    }

    private void StartHttpServer()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 60000);
            _http = new HttpListener();
            _http.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _http.Start();
                _httpUrl = $"http://127.0.0.1:{port}/";
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                _http.Close();
            }
        }

        _httpLoop = Task.Run(async () =>
        {
            while (_http.IsListening)
            {
                var context = await _http.GetContextAsync();
                var request = context.Request;
                var response = context.Response;
                response.StatusCode = request.HttpMethod switch { "GET" => 200, "HEAD" => 200, "POST" => 201, _ => 204 };
                if (request.HttpMethod == "GET")
                {
                    var text = Encoding.UTF8.GetBytes($"GET {request.RawUrl} x-test={request.Headers["x-test"]}");
                    await response.OutputStream.WriteAsync(text);
                }

                response.Close();
            }
        });
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object?>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(object[]))]
internal sealed partial class ProbeJson : System.Text.Json.Serialization.JsonSerializerContext;
