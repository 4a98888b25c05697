using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Node.Telemetry;
using Nex.Node.Tests.Functions;
using Nex.Protocol;
using Nex.Testing;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>
/// The node's spans with the SDK's in-memory exporter, and W3C context across the NATS hops: caller → node
/// (<c>workload-trigger</c>, <c>internal request</c>) → agent (V8 and WebAssembly) → node (<c>host services
/// call</c>) → the function's own messages, and back in the reply. Runs alone: a listener on the node's source
/// turns tracing on for every node in the process.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class TracingEndToEndTests(NatsServerFixture nats) : IAsyncLifetime
{
    // A JavaScript probe: the payload names a call ({service, method, args}); byte arguments are {bytes: "text"}.
    private const string JsProbe = """
        async (subject, payload) => {
          const enc = (s) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
          const req = JSON.parse(String.fromCharCode(...payload));
          if (req.throw) throw new Error(req.throw);
          const args = req.args.map((a) => (a !== null && typeof a === 'object' && 'bytes' in a ? enc(a.bytes) : a));
          try {
            await hostServices[req.service][req.method](...args);
            return { ok: true };
          } catch (e) {
            return { error: String(e) };
          }
        }
        """;

    private readonly List<Activity> _spans = [];
    private TracerProvider _tracing = null!;
    private TestNode _node = null!;
    private string _js = null!;
    private string _wasm = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _tracing = Sdk.CreateTracerProviderBuilder().AddSource(TelemetryNames.ActivitySource).SetSampler(new AlwaysOnSampler()).AddInMemoryExporter(_spans).Build()!;
        _node = await FunctionTests.FunctionNodeAsync(nats.Url, pool: 2);
        _js = FunctionTests.Unique("tracejs");
        _wasm = FunctionTests.Unique("tracewasm");
        await FunctionTests.DeployFunctionAsync(_node, "v8", Encoding.UTF8.GetBytes(JsProbe), "jstrace", _js);
        var wasm = Path.Combine(Examples.RepositoryRoot, "examples", "wasm", "hostcall", "build", "hostcall.wasm");
        await FunctionTests.DeployFunctionAsync(_node, "wasm", await File.ReadAllBytesAsync(wasm, Ct), "wasmtrace", _wasm);
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _tracing?.Dispose();
    }

    private static (ActivityTraceId Trace, ActivitySpanId Span, NatsHeaders Headers) CallerContext()
    {
        var trace = ActivityTraceId.CreateRandom();
        var span = ActivitySpanId.CreateRandom();
        return (trace, span, new NatsHeaders { ["traceparent"] = $"00-{trace}-{span}-01", ["baggage"] = "tenant=acme" });
    }

    private async Task<NatsMsg<byte[]>> TriggerAsync(string subject, string payload, NatsHeaders? headers) =>
        await _node.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);

    // Spans end (and are exported) just after the reply is sent: wait for the ones a trace should have.
    private async Task<List<Activity>> SpansAsync(ActivityTraceId trace, Func<List<Activity>, bool> complete)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            List<Activity> spans;
            lock (_spans)
            {
                spans = _spans.Where(s => s.TraceId == trace).ToList();
            }

            if (complete(spans) || DateTime.UtcNow > deadline)
            {
                return spans;
            }

            await Task.Delay(20, Ct);
        }
    }

    private static void AssertTraceparent(NatsMsg<byte[]> reply, ActivityTraceId trace, Activity triggerSpan)
    {
        var parent = reply.Headers?["traceparent"].ToString();
        Assert.Equal($"00-{trace}-{triggerSpan.SpanId}-01", parent);
    }

    [Fact]
    public async Task Trigger_V8HostServiceCall_IsAChildOfTheTriggerSpan_AcrossNodeAgentNode_AndTheReplyCarriesTheTrace()
    {
        var (trace, callerSpan, headers) = CallerContext();
        var reply = await TriggerAsync(_js, """{"service":"kv","method":"set","args":["k",{"bytes":"v"}]}""", headers);
        Assert.Equal("""{"ok":true}""", Encoding.UTF8.GetString(reply.Data!));

        var spans = await SpansAsync(trace, s => s.Count >= 3);
        var trigger = Assert.Single(spans, s => s.OperationName == "workload-trigger");
        Assert.Equal(callerSpan, trigger.ParentSpanId);
        Assert.Equal(ActivityKind.Server, trigger.Kind);
        Assert.Equal("jstrace", trigger.GetTagItem("name"));
        Assert.Equal("default", trigger.GetTagItem("namespace"));
        Assert.Equal(_js, trigger.GetTagItem("trigger-subject"));
        Assert.Equal("nats", trigger.GetTagItem("messaging.system"));
        Assert.Equal("acme", trigger.GetBaggageItem("tenant"));
        Assert.NotEqual(ActivityStatusCode.Error, trigger.Status);

        var request = Assert.Single(spans, s => s.OperationName == "internal request");
        Assert.Equal(trigger.SpanId, request.ParentSpanId);
        Assert.Equal(ActivityKind.Client, request.Kind);

        var call = Assert.Single(spans, s => s.OperationName == "host services call");
        Assert.Equal(trigger.SpanId, call.ParentSpanId);
        Assert.Equal("kv", call.GetTagItem("nex.host_service.name"));
        Assert.Equal("set", call.GetTagItem("nex.host_service.method"));
        Assert.Equal("jstrace", call.GetTagItem("nex.workload.name"));
        Assert.Equal("default", call.GetTagItem("nex.namespace"));
        Assert.Equal(200, call.GetTagItem("nex.host_service.code"));
        AssertTraceparent(reply, trace, trigger);
    }

    [Fact]
    public async Task Trigger_WasmHostServiceCall_IsAChildOfTheTriggerSpan_AndAFailedCallIsAnErrorSpan()
    {
        var (trace, callerSpan, headers) = CallerContext();
        var reply = await TriggerAsync(_wasm, "kv\nget\n{\"x-keyvalue-key\":\"missing-key\"}\n", headers);
        Assert.StartsWith("404:", Encoding.UTF8.GetString(reply.Data!), StringComparison.Ordinal);

        var spans = await SpansAsync(trace, s => s.Count >= 3);
        var trigger = Assert.Single(spans, s => s.OperationName == "workload-trigger");
        Assert.Equal(callerSpan, trigger.ParentSpanId);
        Assert.Equal("wasmtrace", trigger.GetTagItem("name"));
        Assert.Equal(trigger.SpanId, Assert.Single(spans, s => s.OperationName == "internal request").ParentSpanId);
        var call = Assert.Single(spans, s => s.OperationName == "host services call");
        Assert.Equal(trigger.SpanId, call.ParentSpanId);
        Assert.Equal("wasmtrace", call.GetTagItem("nex.workload.name"));
        Assert.Equal(404, call.GetTagItem("nex.host_service.code"));
        Assert.Equal(ActivityStatusCode.Error, call.Status);
        Assert.Equal("404", call.GetTagItem("error.type"));
        AssertTraceparent(reply, trace, trigger);
    }

    [Fact]
    public async Task AThrowingFunction_ErrorReplyCarriesTheTrace_AndItsTriggerSpanIsAnError()
    {
        var (trace, _, headers) = CallerContext();
        var reply = await TriggerAsync(_js, """{"throw":"no such order"}""", headers);
        Assert.Equal("Error: no such order", reply.Headers![FunctionErrors.Header].ToString());

        var spans = await SpansAsync(trace, s => s.Any(x => x.OperationName == "workload-trigger"));
        var trigger = Assert.Single(spans, s => s.OperationName == "workload-trigger");
        Assert.Equal(ActivityStatusCode.Error, trigger.Status);
        Assert.Equal("Error: no such order", trigger.StatusDescription);
        Assert.Equal("500", trigger.GetTagItem("error.type"));
        AssertTraceparent(reply, trace, trigger);
    }

    [Fact]
    public async Task ConcurrentTriggers_WithDifferentTraces_KeepTheirHostServiceSpansApart()
    {
        const int Calls = 12;
        var callers = Enumerable.Range(0, Calls).Select(_ => CallerContext()).ToArray();
        var replies = await Task.WhenAll(callers.Select((c, i) =>
            TriggerAsync(i % 2 == 0 ? _js : _wasm, i % 2 == 0 ? $$"""{"service":"kv","method":"set","args":["c{{i}}",{"bytes":"v"}]}""" : $"kv\nset\n{{\"x-keyvalue-key\":\"c{i}\"}}\nv", c.Headers)));
        for (var i = 0; i < Calls; i++)
        {
            var spans = await SpansAsync(callers[i].Trace, s => s.Count >= 3);
            var trigger = Assert.Single(spans, s => s.OperationName == "workload-trigger");
            Assert.Equal(callers[i].Span, trigger.ParentSpanId);
            var call = Assert.Single(spans, s => s.OperationName == "host services call");
            Assert.Equal(trigger.SpanId, call.ParentSpanId);
            AssertTraceparent(replies[i], callers[i].Trace, trigger);
        }
    }

    [Fact]
    public async Task AFunctionsMessage_CarriesTheContextOn_AsAChildOfItsHostServiceCall()
    {
        var subject = FunctionTests.Unique("traced.out");
        await using var sub = await _node.Connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        await _node.Connection.PingAsync(Ct);
        var (trace, _, headers) = CallerContext();
        var reply = await TriggerAsync(_js, $$"""{"service":"messaging","method":"publish","args":["{{subject}}",{"bytes":"hi"}]}""", headers);
        Assert.Equal("""{"ok":true}""", Encoding.UTF8.GetString(reply.Data!));

        var published = await sub.Msgs.ReadAsync(Ct);
        var spans = await SpansAsync(trace, s => s.Count >= 3);
        var call = Assert.Single(spans, s => s.OperationName == "host services call");
        Assert.Equal($"00-{trace}-{call.SpanId}-01", published.Headers?["traceparent"].ToString());
        // W3C allows spaces around '=' (.NET's propagator writes them).
        Assert.Contains("tenant=acme", (published.Headers?["baggage"].ToString() ?? "").Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATriggerWithoutTraceparent_StartsANewTrace()
    {
        var reply = await TriggerAsync(_js, """{"service":"kv","method":"set","args":["root",{"bytes":"v"}]}""", null);
        var parent = reply.Headers?["traceparent"].ToString();
        Assert.False(string.IsNullOrEmpty(parent));
        Assert.True(ActivityContext.TryParse(parent, null, out var context));
        var spans = await SpansAsync(context.TraceId, s => s.Count >= 3);
        var trigger = Assert.Single(spans, s => s.OperationName == "workload-trigger");
        Assert.Equal(default, trigger.ParentSpanId);
        Assert.Equal(trigger.SpanId, Assert.Single(spans, s => s.OperationName == "host services call").ParentSpanId);
    }

    [Fact]
    public async Task Deploy_HasItsSpan_With02Events_UnderTheCallersTrace_AndARejectedDeployIsAnError()
    {
        var (trace, callerSpan, headers) = CallerContext();
        var location = await Artifacts.UploadAsync(_node.Connection, "T" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "traced", "(s, p) => p"u8.ToArray());
        var body = Wire.DeployJson(_node.NodeId, _node.Node.PublicXKey, name: "traced", type: "v8", location: location, triggers: [FunctionTests.Unique("traced")]);
        var reply = await _node.Connection.RequestAsync<byte[], byte[]>($"$NEX.DEPLOY.default.{_node.NodeId}", Encoding.UTF8.GetBytes(body), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken: Ct);
        Assert.False(JsonDocument.Parse(reply.Data!).RootElement.TryGetProperty("error", out _));

        var deploy = Assert.Single(await SpansAsync(trace, s => s.Count >= 1), s => s.OperationName == "Handle Deploy Request");
        Assert.Equal(callerSpan, deploy.ParentSpanId);
        Assert.Equal(["Started workload download", "Completed workload download", "Created agent deploy request", "Agent deploy request accepted"], deploy.Events.Select(e => e.Name));
        Assert.NotEqual(ActivityStatusCode.Error, deploy.Status);

        (trace, _, headers) = CallerContext();
        var bad = await _node.Connection.RequestAsync<byte[], byte[]>($"$NEX.DEPLOY.default.{_node.NodeId}", "{}"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken: Ct);
        var error = JsonDocument.Parse(bad.Data!).RootElement.GetProperty("error").GetString();
        var rejected = Assert.Single(await SpansAsync(trace, s => s.Count >= 1), s => s.OperationName == "Handle Deploy Request");
        Assert.Equal(ActivityStatusCode.Error, rejected.Status);
        Assert.Equal(error, rejected.StatusDescription);
    }

    [Fact]
    public async Task ControlRequests_HaveThe02SpanNames_UnderTheCallersTrace_AndPingHasNone()
    {
        var (trace, _, headers) = CallerContext();
        await _node.Connection.RequestAsync<byte[], byte[]>($"$NEX.INFO.default.{_node.NodeId}", [], headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        await _node.Connection.RequestAsync<byte[], byte[]>($"$NEX.PING.{_node.NodeId}", [], headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        var stop = await _node.Connection.RequestAsync<byte[], byte[]>($"$NEX.STOP.default.{_node.NodeId}", "not json"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        Assert.True(JsonDocument.Parse(stop.Data!).RootElement.TryGetProperty("error", out _));

        await _node.Connection.RequestAsync<byte[], byte[]>("$NEX.AUCTION", "{}"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        await _node.Connection.RequestAsync<byte[], byte[]>("$NEX.WPING.default", [], headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);

        var spans = await SpansAsync(trace, s => s.Count >= 4);
        Assert.Equal(["Handle Auction Request", "Handle info request", "Handle workload ping", "Handle workload stop request"], spans.Select(s => s.OperationName).Order(StringComparer.Ordinal));
        Assert.Equal(ActivityStatusCode.Error, Assert.Single(spans, s => s.OperationName == "Handle workload stop request").Status);
        Assert.All(spans, s => Assert.StartsWith("$NEX.", (string)s.GetTagItem("messaging.destination.name")!, StringComparison.Ordinal));
    }
}

/// <summary>
/// With NATS.Net's own spans recorded too (NATS.Client.OpenTelemetry's source), the client's send spans sit
/// between the node's: NATS.Net rewrites <c>traceparent</c> on every message it sends under a span. The trace
/// stays one, and the host-service call still descends from the trigger span.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class TracingWithNatsClientSpansTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheHostServiceCall_StillDescendsFromTheTriggerSpan()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(TelemetryNames.ActivitySource, "NATS.Net").SetSampler(new AlwaysOnSampler()).AddInMemoryExporter(spans).Build()!;
        await using var node = await FunctionTests.FunctionNodeAsync(nats.Url);
        var subject = FunctionTests.Unique("natsnet");
        await FunctionTests.DeployFunctionAsync(node, "v8", "async (s, p) => { await hostServices.kv.set('n', p); return 'ok'; }"u8.ToArray(), "natsnet", subject);

        // The caller's own span: NATS.Net sends under it.
        var caller = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C).Start();
        NatsMsg<byte[]> reply;
        try
        {
            reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, "x"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(15) }, cancellationToken: Ct);
        }
        finally
        {
            caller.Stop();
        }

        Assert.Equal("\"ok\"", Encoding.UTF8.GetString(reply.Data!));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        List<Activity> trace;
        while (true)
        {
            lock (spans)
            {
                trace = spans.Where(s => s.TraceId == caller.TraceId).ToList();
            }

            if (trace.Any(s => s.OperationName == "host services call") && trace.Any(s => s.OperationName == "workload-trigger") || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(20, Ct);
        }

        var trigger = Assert.Single(trace, s => s.OperationName == "workload-trigger");
        var call = Assert.Single(trace, s => s.OperationName == "host services call");
        var ancestors = new List<string>();
        var span = call;
        while (span is not null && span != trigger)
        {
            ancestors.Add(span.OperationName);
            span = trace.FirstOrDefault(s => s.SpanId == span.ParentSpanId);
        }

        Assert.True(span == trigger, "host services call's ancestors: " + string.Join(" <- ", ancestors));
        Assert.Contains(trace, s => s.Source.Name == "NATS.Net");
        TestContext.Current.TestOutputHelper?.WriteLine("host services call <- " + string.Join(" <- ", ancestors.Skip(1)) + " <- workload-trigger");
    }
}
