using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>The http host service against a local HttpListener (spec §6.3, §11 #10), and its destination
/// policy (issue 15 item 3): loopback is refused unless the node's allow list opens it, as these tests do.</summary>
public sealed class HttpServiceTests(NatsServerFixture nats) : HostServicesTestBase(nats)
{
    private const string Http_ = HostServicesProtocol.Http;
    private LocalHttpServer _server = null!;

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        _server = LocalHttpServer.Start();
    }

    public override async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        await base.DisposeAsync();
    }

    private static Nex.Node.Config.HostServicesConfig AllowLoopback { get; } = WithService(Http_, configJson: """{"allow":["127.0.0.0/8"]}""");

    private Dictionary<string, string> Url(string pathAndQuery, string? headersJson = null)
    {
        var headers = Headers((HostServicesProtocol.UrlHeader, _server.BaseUrl + pathAndQuery));
        if (headersJson is not null)
        {
            headers[HostServicesProtocol.HttpHeadersHeader] = headersJson;
        }

        return headers;
    }

    // W3C context goes on to the server: the caller's as it came when the node does not trace, the node's span's
    // (HttpClient's own propagation) when it does, and nothing when there is neither.
    [Fact]
    public async Task TraceContext_PassesThrough_OrIsTheNodeSpans_AndIsAbsentWithoutOne_AndAFunctionsOwnIsKept()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        const string Caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        const string Own = "00-11111111111111111111111111111111-2222222222222222-01";
        AssertOk(await Call(hs, Http_, "get", new Dictionary<string, string>(Url("a")) { ["traceparent"] = Caller, ["tracestate"] = "k=v" }));
        AssertOk(await Call(hs, Http_, "get", Url("b")));
        var traced = await TracedAsync();
        var seen = _server.Requests.ToDictionary(r => r.RawUrl, r => r.Headers.FirstOrDefault(h => h.Key.Equals("traceparent", StringComparison.OrdinalIgnoreCase)).Value);
        Assert.Equal(Caller, seen["/a"]);
        Assert.Null(seen["/b"]);
        Assert.Equal(traced.ToHexString(), seen["/c"]?.Split('-')[1]);
        Assert.Equal(Own, seen["/d"]);

        async Task<System.Diagnostics.ActivityTraceId> TracedAsync()
        {
            using var span = new System.Diagnostics.Activity("host services call").SetIdFormat(System.Diagnostics.ActivityIdFormat.W3C).Start();
            AssertOk(await Call(hs, Http_, "get", new Dictionary<string, string>(Url("c")) { ["traceparent"] = Caller }));
            AssertOk(await Call(hs, Http_, "get", Url("d", $$"""{"traceparent":"{{Own}}"}""")));
            return span.TraceId;
        }
    }

    [Fact]
    public async Task Get_KeepsPathAndQuery_AndSendsHeaders()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, "get", Url("api/items?x=1&y=two", "{\"X-Test\":\"yes\",\"X-Multi\":[\"a\",\"b\"]}"));
        AssertOk(r);
        var result = Json(r);
        Assert.Equal(200, result.GetProperty("status").GetInt32());
        Assert.Equal("hello GET", result.GetProperty("body").GetString());
        Assert.False(result.TryGetProperty("error", out _));
        var headers = result.GetProperty("headers");
        Assert.Equal("yes", headers.GetProperty("X-Echo").EnumerateArray().Single().GetString());

        var seen = _server.Requests.Single();
        Assert.Equal("GET", seen.Method);
        Assert.Equal("/api/items?x=1&y=two", seen.RawUrl);
        Assert.DoesNotContain("//", seen.RawUrl, StringComparison.Ordinal);
        Assert.Equal("yes", seen.Headers["X-Test"]);
        Assert.Contains("a", seen.Headers["X-Multi"], StringComparison.Ordinal);
        Assert.Contains("b", seen.Headers["X-Multi"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_SendsBodyAsTextPlain_And201()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, "post", Url("things"), "payload"u8.ToArray());
        AssertOk(r);
        var result = Json(r);
        Assert.Equal(201, result.GetProperty("status").GetInt32());
        Assert.Equal("payload", result.GetProperty("body").GetString());
        var seen = _server.Requests.Single();
        Assert.Equal("POST", seen.Method);
        Assert.Equal("payload", seen.Body);
        Assert.StartsWith("text/plain", seen.Headers["Content-Type"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_ContentTypeFromHeaders_Wins()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        AssertOk(await Call(hs, Http_, "post", Url("things", "{\"Content-Type\":\"application/json\"}"), "{}"u8.ToArray()));
        Assert.StartsWith("application/json", _server.Requests.Single().Headers["Content-Type"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("put")]
    [InlineData("patch")]
    [InlineData("delete")]
    public async Task PutPatchDelete_204(string method)
    {
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, method, Url("thing/1?force=true"), "data"u8.ToArray());
        AssertOk(r);
        var result = Json(r);
        Assert.Equal(204, result.GetProperty("status").GetInt32());
        Assert.Equal("", result.GetProperty("body").GetString());
        var seen = _server.Requests.Single();
        Assert.Equal(method.ToUpperInvariant(), seen.Method);
        Assert.Equal("/thing/1?force=true", seen.RawUrl);
        Assert.Equal(method == "delete" ? "" : "data", seen.Body);
    }

    [Fact]
    public async Task Head_200_EmptyBody()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, "head", Url("thing"));
        AssertOk(r);
        var result = Json(r);
        Assert.Equal(200, result.GetProperty("status").GetInt32());
        Assert.Equal("", result.GetProperty("body").GetString());
        Assert.Equal("HEAD", _server.Requests.Single().Method);
    }

    [Fact]
    public async Task GzipResponse_IsDecoded()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, "get", Url("gzip"));
        AssertOk(r);
        Assert.Equal("compressed hello", Json(r).GetProperty("body").GetString());
    }

    [Fact]
    public async Task TransportFailure_Is500WithError()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, "get", Headers((HostServicesProtocol.UrlHeader, $"http://127.0.0.1:{LocalHttpServer.FreePort()}/x")));
        Assert.Equal(500, r.Code);
        Assert.StartsWith("Failed to execute host service method: ", r.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(Json(r).GetProperty("error").GetString()));
    }

    [Fact]
    public async Task BadInput_Is400()
    {
        var hs = await CreateAsync(config: AllowLoopback);
        Assert.Equal(400, (await Call(hs, Http_, "get")).Code);
        Assert.Equal(400, (await Call(hs, Http_, "get", Headers((HostServicesProtocol.UrlHeader, "not a url")))).Code);
        Assert.Equal(400, (await Call(hs, Http_, "get", Url("x", "[1,2]"))).Code);
        Assert.Equal(400, (await Call(hs, Http_, "options", Url("x"))).Code);
    }

    [Theory]
    [InlineData("http://127.0.0.1:{0}/x", "loopback")]
    [InlineData("http://localhost:{0}/x", "loopback")] // refused after resolution
    [InlineData("http://[::1]:{0}/x", "loopback")]
    [InlineData("http://[::ffff:127.0.0.1]:{0}/x", "loopback")]
    [InlineData("http://2130706433:{0}/x", "loopback")]
    [InlineData("http://127.1:{0}/x", "loopback")]
    [InlineData("http://0.0.0.0:{0}/x", "unspecified")]
    public async Task Loopback_IsRefusedByDefault_As403_BeforeAnyByteIsSent(string urlFormat, string kind)
    {
        var hs = await CreateAsync();
        var url = string.Format(System.Globalization.CultureInfo.InvariantCulture, urlFormat, new Uri(_server.BaseUrl).Port);
        var r = await Call(hs, Http_, "get", Headers((HostServicesProtocol.UrlHeader, url)));
        Assert.Equal(403, r.Code);
        Assert.StartsWith("http: destination ", r.Message, StringComparison.Ordinal);
        Assert.EndsWith($" is not allowed for workloads ({kind} address)", r.Message, StringComparison.Ordinal);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public async Task TheNatsPort_IsRefused_ByDefault()
    {
        var hs = await CreateAsync();
        var nats = new Uri(NatsUrl);
        var r = await Call(hs, Http_, "get", Headers((HostServicesProtocol.UrlHeader, $"http://{nats.Host}:{nats.Port}/connz")));
        Assert.Equal(403, r.Code);
        Assert.Equal($"http: destination {nats.Host}:{nats.Port} is not allowed for workloads (loopback address)", r.Message);
    }

    [Fact]
    public async Task AllowList_HostPort_OpensThatServerOnly()
    {
        var port = new Uri(_server.BaseUrl).Port;
        var hs = await CreateAsync(config: WithService(Http_, configJson: $$"""{"allow":["127.0.0.1:{{port}}", "localhost:{{port}}"]}"""));
        AssertOk(await Call(hs, Http_, "get", Url("open")));
        AssertOk(await Call(hs, Http_, "get", Headers((HostServicesProtocol.UrlHeader, $"http://localhost:{port}/by-name"))));

        var nats = new Uri(NatsUrl);
        var r = await Call(hs, Http_, "get", Headers((HostServicesProtocol.UrlHeader, $"http://127.0.0.1:{nats.Port}/")));
        Assert.Equal(403, r.Code);
    }

    [Fact]
    public async Task Redirect_ToAHopTheListDoesNotOpen_IsRefused()
    {
        await using var other = LocalHttpServer.Start();
        var port = new Uri(_server.BaseUrl).Port;
        var hs = await CreateAsync(config: WithService(Http_, configJson: $$"""{"allow":["127.0.0.1:{{port}}"]}"""));

        // The first hop is allowed; the server then sends the client to another loopback port.
        var r = await Call(hs, Http_, "get", Url("redirect?to=" + Uri.EscapeDataString(other.BaseUrl + "secret")));
        Assert.Equal(403, r.Code);
        Assert.Equal($"http: destination 127.0.0.1:{new Uri(other.BaseUrl).Port} is not allowed for workloads (loopback address)", r.Message);
        Assert.Single(_server.Requests);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task Redirect_BetweenOpenHops_IsFollowed()
    {
        await using var other = LocalHttpServer.Start();
        var hs = await CreateAsync(config: AllowLoopback);
        var r = await Call(hs, Http_, "get", Url("redirect?to=" + Uri.EscapeDataString(other.BaseUrl + "landed")));
        AssertOk(r);
        Assert.Equal("hello GET", Json(r).GetProperty("body").GetString());
        Assert.Equal("/landed", other.Requests.Single().RawUrl);
    }

    [Fact]
    public async Task Disabled_Is404()
    {
        var hs = await CreateAsync(config: WithService(Http_, enabled: false));
        var r = await Call(hs, Http_, "get", Url("x"));
        Assert.Equal(404, r.Code);
        Assert.Equal("No such host service: http", r.Message);
    }
}

internal sealed record SeenRequest(string Method, string RawUrl, Dictionary<string, string> Headers, string Body);

/// <summary>An HttpListener on a free loopback port that records requests and answers by method.</summary>
internal sealed class LocalHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Task _loop;

    private LocalHttpServer(HttpListener listener, string baseUrl)
    {
        _listener = listener;
        BaseUrl = baseUrl;
        _loop = Task.Run(LoopAsync);
    }

    public string BaseUrl { get; }

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();

    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public static LocalHttpServer Start()
    {
        for (var attempt = 0; ; attempt++)
        {
            var baseUrl = $"http://127.0.0.1:{FreePort()}/";
            var listener = new HttpListener();
            listener.Prefixes.Add(baseUrl);
            try
            {
                listener.Start();
                return new LocalHttpServer(listener, baseUrl);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Close alone: on Linux the managed listener's Stop then Close removes its endpoint twice, and the second
        // removal binds the port again, failing with "Address already in use" if another test took it meanwhile.
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception)
        {
            // The accept loop ends with an exception when the listener closes.
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }

            await HandleAsync(context);
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync();
        }

        var headers = request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue(new SeenRequest(request.HttpMethod, request.RawUrl ?? "", headers, body));

        var response = context.Response;
        if (request.Headers["X-Test"] is { } echo)
        {
            response.Headers["X-Echo"] = echo;
        }

        byte[] reply = [];
        switch (request.HttpMethod)
        {
            case "GET" when request.Url!.AbsolutePath == "/redirect":
                response.StatusCode = 302;
                response.RedirectLocation = request.QueryString["to"];
                break;
            case "GET" when request.Url!.AbsolutePath == "/gzip":
                response.StatusCode = 200;
                response.Headers["Content-Encoding"] = "gzip";
                using (var buffer = new MemoryStream())
                {
                    await using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionMode.Compress, leaveOpen: true))
                    {
                        await gzip.WriteAsync("compressed hello"u8.ToArray());
                    }

                    reply = buffer.ToArray();
                }

                break;
            case "GET":
                response.StatusCode = 200;
                reply = "hello GET"u8.ToArray();
                break;
            case "POST":
                response.StatusCode = 201;
                reply = Encoding.UTF8.GetBytes(body);
                break;
            case "HEAD":
                response.StatusCode = 200;
                break;
            default:
                response.StatusCode = 204;
                break;
        }

        if (reply.Length > 0)
        {
            response.ContentType = "text/plain; charset=utf-8";
            response.ContentLength64 = reply.Length;
            await response.OutputStream.WriteAsync(reply);
        }

        response.Close();
    }
}
