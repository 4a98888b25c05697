using System.Text;
using NATS.Client.Core;
using Nex.Client;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Functions;

/// <summary>JavaScript and WebAssembly functions end to end: real node, real agents, real V8 and Wasmtime (spec §5.9–5.11).</summary>
public sealed class FunctionTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Bucket() => "F" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

    internal static string Unique(string prefix) => prefix + "." + Guid.NewGuid().ToString("N")[..8];

    internal static Task<TestNode> FunctionNodeAsync(string url, int pool = 1, int timeoutMs = 5000) =>
        TestNode.StartAsync(url, c => c with { WorkloadTypes = ["native", "v8", "wasm"], MachinePoolSize = pool, FunctionTimeoutMs = timeoutMs });

    internal static async Task<string> DeployFunctionAsync(TestNode node, string type, byte[] code, string name, params string[] triggers)
    {
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), name, code);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: name, type: type, location: location, triggers: triggers));
        Assert.True(error is null, error);
        return id!;
    }

    private static async Task<string?> InvokeAsync(NatsConnection connection, string subject, string payload, TimeSpan? timeout = null)
    {
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), replyOpts: new NatsSubOpts { Timeout = timeout ?? TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
            return reply.HasNoResponders ? null : Encoding.UTF8.GetString(reply.Data ?? []);
        }
        catch (NatsNoReplyException)
        {
            return null;
        }
    }

    private static byte[] ExampleJs(string name) => File.ReadAllBytes(Path.Combine(Examples.RepositoryRoot, "examples", "js", name));

    [Fact]
    public async Task V8Echo_RepliesLike02_OnTheRealSubject_AndReportsItsRuntime()
    {
        await using var node = await FunctionNodeAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var prefix = Unique("hello");
        var id = await DeployFunctionAsync(node, "v8", ExampleJs("echo.js"), "echofunctionjs", prefix + ".*");

        Assert.Equal($"{{\"triggered_on\":\"{prefix}.world\",\"payload\":\"hello world\"}}", await InvokeAsync(node.Connection, prefix + ".world", "hello world"));
        var succeeded = await events.WaitAsync((s, b) => s.EndsWith(".function_exec_succeeded", StringComparison.Ordinal) && b.GetProperty("data").GetProperty("workload_name").GetString() == "echofunctionjs", TimeSpan.FromSeconds(10), "function_exec_succeeded");
        var data = succeeded.Body.GetProperty("data");
        Assert.Equal(prefix + ".*", data.GetProperty("trigger_subject").GetString()); // the subscription, as in 0.2
        Assert.True(data.GetProperty("elapsed_nanos").GetInt64() > 0);
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        Assert.Equal("v8", Assert.Single(info.Machines, m => m.Id == id).Workload.Type);
    }

    [Fact]
    public async Task WasmEcho_PrintsPayloadThenSubject()
    {
        var wasm = Path.Combine(Examples.RepositoryRoot, "examples", "wasm", "echo", "build", "echo.wasm");
        if (!File.Exists(wasm))
        {
            Assert.Skip("examples/wasm/echo is not built (examples/build.sh)");
        }

        await using var node = await FunctionNodeAsync(nats.Url);
        var subject = Unique("wasm");
        await DeployFunctionAsync(node, "wasm", await File.ReadAllBytesAsync(wasm, Ct), "echowasm", subject);
        Assert.Equal("hello world" + subject, await InvokeAsync(node.Connection, subject, "hello world"));
    }

    [Fact]
    public async Task AnInfiniteLoop_IsCutAtTheTimeout_AndOtherFunctionsAreUnaffected()
    {
        await using var node = await FunctionNodeAsync(nats.Url, pool: 2, timeoutMs: 500);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var loop = Unique("loop");
        var echo = Unique("echo");
        await DeployFunctionAsync(node, "v8", "(subject, payload) => { while (true) {} }"u8.ToArray(), "looper", loop);
        await DeployFunctionAsync(node, "v8", ExampleJs("echo.js"), "echoer", echo);

        // Answered at the timeout, not the caller's: empty, 408, the cause; the event says the same.
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(loop, "x"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(4) }, cancellationToken: Ct);
        Assert.Empty(reply.Data ?? []);
        Assert.Equal("408", reply.Headers![FunctionErrors.CodeHeader].ToString());
        Assert.Contains("timed out after 500 ms", reply.Headers![FunctionErrors.Header].ToString(), StringComparison.Ordinal);
        var failed = await events.WaitAsync((s, b) => s.EndsWith(".function_exec_failed", StringComparison.Ordinal) && b.GetProperty("data").GetProperty("workload_name").GetString() == "looper", TimeSpan.FromSeconds(10), "function_exec_failed");
        Assert.Equal(reply.Headers![FunctionErrors.Header].ToString(), failed.Body.GetProperty("data").GetProperty("error").GetString());
        Assert.Contains("\"payload\":\"still here\"", await InvokeAsync(node.Connection, echo, "still here"), StringComparison.Ordinal);

        // The looping function itself recovers for its next call.
        var id = Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines, m => m.Workload.Name == "looper").Id;
        Assert.NotNull(id);
        Assert.Equal(2, (await node.Client.PingNodeAsync(node.NodeId, Ct)).RunningMachines);
    }

    [Fact]
    public async Task AThrowingFunction_IsAnsweredAtOnce_WithTheServiceErrorHeaders_AndTheRealCauseInItsEvent()
    {
        await using var node = await FunctionNodeAsync(nats.Url, timeoutMs: 30_000);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var subject = Unique("thrower");
        await DeployFunctionAsync(node, "v8", "(subject, payload) => { throw new Error('no such order'); }"u8.ToArray(), "thrower", subject);

        // 0.2 sent no reply, and the caller waited its whole timeout; now the 30 s function timeout does not matter.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, "x"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"a throwing function answered in {clock.ElapsedMilliseconds} ms");
        Assert.Empty(reply.Data ?? []);
        Assert.Equal("Error: no such order", reply.Headers![FunctionErrors.Header].ToString());
        Assert.Equal("500", reply.Headers![FunctionErrors.CodeHeader].ToString());
        var failed = await events.WaitAsync((s, b) => s.EndsWith(".function_exec_failed", StringComparison.Ordinal) && b.GetProperty("data").GetProperty("workload_name").GetString() == "thrower", TimeSpan.FromSeconds(10), "function_exec_failed");
        Assert.Equal("Error: no such order", failed.Body.GetProperty("data").GetProperty("error").GetString());
    }

    [Fact]
    public async Task QueueGroup_ReplicasShareMessages_InsteadOfAllAnswering()
    {
        await using var node = await FunctionNodeAsync(nats.Url, pool: 2);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var subject = Unique("shared");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "replica", "(s, p) => 'ok'"u8.ToArray());
        for (var i = 0; i < 2; i++)
        {
            var json = Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "replica", type: "v8", location: location, triggers: [subject]);
            json = json.Insert(json.Length - 1, ",\"trigger_queue_group\":\"replicas\"");
            Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, json)).Error);
        }

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("\"ok\"", await InvokeAsync(node.Connection, subject, "x"));
        }

        int Executions() => events.All.Count(e => e.Subject.EndsWith(".function_exec_succeeded", StringComparison.Ordinal) && e.Body.GetProperty("data").GetProperty("trigger_subject").GetString() == subject);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Executions() < 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }

        await Task.Delay(500, Ct); // the events of second runs, if any, would come as late as the first ones
        Assert.Equal(20, Executions()); // 0.2 (no queue group) would run 40
    }

    [Fact]
    public async Task FunctionContextReuse_KeepsGlobalsBetweenCalls_FreshDoesNot()
    {
        await using var node = await FunctionNodeAsync(nats.Url, pool: 2);
        var code = "(s, p) => { globalThis.n = (globalThis.n ?? 0) + 1; return globalThis.n; }"u8.ToArray();
        var reused = Unique("reused");
        var fresh = Unique("fresh");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "counter", code);
        var json = Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "counter", type: "v8", location: location, triggers: [reused]);
        Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, json.Insert(json.Length - 1, ",\"function_context\":\"reuse\""))).Error);
        json = Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "counter", type: "v8", location: location, triggers: [fresh]);
        Assert.Null((await Wire.DeployAsync(node.Connection, node.NodeId, json.Insert(json.Length - 1, ",\"function_context\":\"fresh\""))).Error);

        for (var i = 1; i <= 5; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), await InvokeAsync(node.Connection, reused, "x"));
            Assert.Equal("1", await InvokeAsync(node.Connection, fresh, "x"));
        }
    }

    [Fact]
    public async Task OversizedJavaScript_IsRejected()
    {
        await using var node = await FunctionNodeAsync(nats.Url);
        var source = "(s, p) => 1; //" + new string('x', 12_300);
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "big", Encoding.UTF8.GetBytes(source));
        var (_, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "big", type: "v8", location: location, triggers: [Unique("big")]));
        Assert.Equal($"Failed to deploy workload: workload rejected by agent: Failed to validate workload: source file ({source.Length} bytes) exceeds maximum of 12288 bytes", error);
    }
}

/// <summary>Runs alone: it measures that nothing is lost under a long stream, not how the machine copes with every other test at once.</summary>
[CollectionDefinition(nameof(RunsAlone), DisableParallelization = true)]
public sealed class RunsAlone;

[Collection(nameof(RunsAlone))]
public sealed class FunctionLoadTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TenThousandTriggersInARow_GetTenThousandReplies()
    {
        await using var node = await FunctionTests.FunctionNodeAsync(nats.Url);
        await using var failures = await Recorder.StartAsync(node.Connection, "$NEX.events.*.function_exec_failed");
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");
        var subject = FunctionTests.Unique("many");
        await FunctionTests.DeployFunctionAsync(node, "v8", "(subject, payload) => payload"u8.ToArray(), "counter", subject);
        var replies = 0;
        var lost = new List<int>();
        for (var i = 0; i < 10_000; i++)
        {
            var payload = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                var reply = await node.Connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: Ct);
                if (Encoding.UTF8.GetString(reply.Data!) == payload)
                {
                    replies++;
                }
            }
            catch (NatsNoReplyException)
            {
                lost.Add(i);
                if (lost.Count >= 3)
                {
                    break; // fail now, with the diagnostics, rather than wait out thousands of timeouts
                }
            }
        }

        Assert.True(replies == 10_000, $"lost {string.Join(",", lost)}; failures: {string.Join(" | ", failures.All.Select(f => f.Body.ToString()))}; logs: {string.Join(" | ", logs.All.Where(l => !l.Body.ToString().Contains("succeeded", StringComparison.Ordinal)).Select(l => l.Body.ToString()).Take(20))}");
    }
}
