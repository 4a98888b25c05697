using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Protocol;
using Nex.Cli.Commands;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex invoke</c> against a stand-in function: a subscription in the test that answers the request.</summary>
public sealed class InvokeCommandTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>, IAsyncLifetime
{
    private NatsConnection? _connection;

    private NatsConnection Connection => _connection ?? throw new InvalidOperationException("not connected");

    public async ValueTask InitializeAsync()
    {
        _connection = new NatsConnection(NatsOpts.Default with { Url = nats.Url });
        await _connection.ConnectAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }

    private static string NewSubject() => $"fn.test{Guid.NewGuid():N}";

    /// <summary>Answers every request on <paramref name="subject"/> with <paramref name="answer"/>(request bytes); records the requests.</summary>
    private async Task<(List<byte[]> Requests, IAsyncDisposable Stop)> RespondAsync(string subject, Func<byte[], byte[]> answer, NatsHeaders? headers = null)
    {
        var requests = new List<byte[]>();
        var sub = await Connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: TestContext.Current.CancellationToken);
        var loop = Task.Run(async () =>
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync())
            {
                var data = msg.Data ?? [];
                lock (requests)
                {
                    requests.Add(data);
                }

                await msg.ReplyAsync(answer(data), headers: headers);
            }
        });
        await Connection.PingAsync();
        return (requests, new Stopper(sub, loop));
    }

    private sealed class Stopper(INatsSub<byte[]> sub, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await sub.UnsubscribeAsync();
            await loop;
            await sub.DisposeAsync();
        }
    }

    private static void AssertOneLineError(RawCli cli, string expected)
    {
        Assert.NotEqual(0, cli.ExitCode);
        var lines = cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{cli.StdErr}");
        Assert.Equal($"nex: {expected}", lines[0]);
        Assert.Empty(cli.StdOutBytes);
    }

    [Fact]
    public async Task Invoke_PrintsTheReplyExactly_WithoutANewlineWhenPiped()
    {
        var subject = NewSubject();
        var (requests, stop) = await RespondAsync(subject, data => Encoding.UTF8.GetBytes($"{{\"triggered_on\":\"{subject}\",\"payload\":\"{Encoding.UTF8.GetString(data)}\"}}"));
        await using (stop)
        {
            var cli = await RawCli.RunAsync(["invoke", subject, "hello world", "-s", nats.Url]);

            Assert.True(cli.ExitCode == 0, cli.StdErr);
            Assert.Equal($"{{\"triggered_on\":\"{subject}\",\"payload\":\"hello world\"}}", cli.StdOut);
            Assert.Equal("", cli.StdErr);
            Assert.Equal("hello world"u8.ToArray(), Assert.Single(requests));
        }
    }

    [Fact]
    public async Task Invoke_BinaryPayloadFromFile_AndBinaryReply_AreBytesAsTheyAre()
    {
        var subject = NewSubject();
        byte[] payload = [0, 1, 0xfe, 0xff, (byte)'\n'];
        byte[] reply = [0xc3, 0x28, 0, 7];
        using var dir = new TempDirectory();
        await File.WriteAllBytesAsync(dir.File("p.bin"), payload, TestContext.Current.CancellationToken);
        var (requests, stop) = await RespondAsync(subject, _ => reply);
        await using (stop)
        {
            var cli = await RawCli.RunAsync(["invoke", subject, "--file", dir.File("p.bin"), "-s", nats.Url]);

            Assert.True(cli.ExitCode == 0, cli.StdErr);
            Assert.Equal(reply, cli.StdOutBytes);
            Assert.Equal(payload, Assert.Single(requests));
        }
    }

    [Fact]
    public async Task Invoke_Dash_ReadsThePayloadFromStdin()
    {
        var subject = NewSubject();
        var (requests, stop) = await RespondAsync(subject, data => [.. "got "u8, .. data]);
        await using (stop)
        {
            var cli = await RawCli.RunAsync(["invoke", subject, "-", "-s", nats.Url], stdin: "line 1\nline 2\n"u8.ToArray());

            Assert.True(cli.ExitCode == 0, cli.StdErr);
            Assert.Equal("got line 1\nline 2\n", cli.StdOut);
            Assert.Equal("line 1\nline 2\n"u8.ToArray(), Assert.Single(requests));
        }
    }

    [Fact]
    public async Task Invoke_NoPayload_SendsAnEmptyRequest()
    {
        var subject = NewSubject();
        var (requests, stop) = await RespondAsync(subject, data => Encoding.UTF8.GetBytes($"{data.Length}"));
        await using (stop)
        {
            var cli = await RawCli.RunAsync(["invoke", subject, "-s", nats.Url]);

            Assert.True(cli.ExitCode == 0, cli.StdErr);
            Assert.Equal("0", cli.StdOut);
            Assert.Empty(Assert.Single(requests));
        }
    }

    [Fact]
    public async Task Invoke_Json_PrintsSubjectAndReply_TextOrBase64()
    {
        var subject = NewSubject();
        var (_, stop) = await RespondAsync(subject, data => data.Length == 0 ? [0xff, 0xfe] : "{\"a\":\"é\"}"u8.ToArray());
        await using (stop)
        {
            var text = await RawCli.RunAsync(["invoke", subject, "x", "--json", "-s", nats.Url]);
            Assert.True(text.ExitCode == 0, text.StdErr);
            using (var doc = JsonDocument.Parse(text.StdOutBytes))
            {
                Assert.Equal(subject, doc.RootElement.GetProperty("subject").GetString());
                Assert.Equal("{\"a\":\"é\"}", doc.RootElement.GetProperty("reply").GetString());
                Assert.False(doc.RootElement.TryGetProperty("reply_encoding", out _));
            }

            var binary = await RawCli.RunAsync(["invoke", subject, "--json", "-s", nats.Url]);
            Assert.True(binary.ExitCode == 0, binary.StdErr);
            using (var doc = JsonDocument.Parse(binary.StdOutBytes))
            {
                Assert.Equal(Convert.ToBase64String([0xff, 0xfe]), doc.RootElement.GetProperty("reply").GetString());
                Assert.Equal("base64", doc.RootElement.GetProperty("reply_encoding").GetString());
            }
        }
    }

    [Fact]
    public async Task Invoke_Headers_GoToStderr()
    {
        var subject = NewSubject();
        var (_, stop) = await RespondAsync(subject, _ => "ok"u8.ToArray(), new NatsHeaders { ["x-nex-runtime-ns"] = "1234" });
        await using (stop)
        {
            var cli = await RawCli.RunAsync(["invoke", subject, "--headers", "-s", nats.Url]);

            Assert.True(cli.ExitCode == 0, cli.StdErr);
            Assert.Equal("ok", cli.StdOut);
            Assert.Contains("x-nex-runtime-ns: 1234", cli.StdErr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Invoke_AFailedFunction_IsOneLine_WithItsCause_AndExitsOne()
    {
        // What the node answers for a function that threw: an empty body and the NATS service error headers.
        var subject = NewSubject();
        var (_, stop) = await RespondAsync(subject, _ => [], new NatsHeaders { [FunctionErrors.Header] = "Error: no such order", [FunctionErrors.CodeHeader] = "500" });
        await using (stop)
        {
            var cli = await RawCli.RunAsync(["invoke", subject, "x", "-s", nats.Url]);
            AssertOneLineError(cli, "function failed: Error: no such order");
            Assert.Equal(1, cli.ExitCode);
        }
    }

    [Fact]
    public async Task Invoke_NoResponders_OneLine()
    {
        var subject = NewSubject();
        var cli = await RawCli.RunAsync(["invoke", subject, "hi", "-s", nats.Url]);
        AssertOneLineError(cli, $"no function is listening on '{subject}'");
    }

    [Fact]
    public async Task Invoke_NoReply_TimesOutWithOneLine()
    {
        var subject = NewSubject();
        await using var silent = await Connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: TestContext.Current.CancellationToken);
        await Connection.PingAsync(TestContext.Current.CancellationToken);

        var started = DateTime.UtcNow;
        var cli = await RawCli.RunAsync(["invoke", subject, "hi", "--timeout", "1s", "-s", nats.Url]);

        AssertOneLineError(cli, $"no reply on '{subject}' within 1s (the function failed or timed out; see nex logs / nex events)");
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(1));
    }

    [Theory]
    [InlineData("fn.*", "cannot invoke the wildcard subject 'fn.*'")]
    [InlineData("a..b", "invalid subject 'a..b'")]
    [InlineData("a b", "invalid subject 'a b'")]
    public async Task Invoke_BadSubject_OneLine_NothingSent(string subject, string expected)
    {
        var cli = await RawCli.RunAsync(["invoke", subject, "-s", "nats://127.0.0.1:1"]);
        Assert.NotEqual(0, cli.ExitCode);
        Assert.StartsWith($"nex: {expected}", cli.StdErr, StringComparison.Ordinal);
        Assert.Single(cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Invoke_PayloadAndFile_OneLine()
    {
        var cli = await RawCli.RunAsync(["invoke", "hello", "x", "--file", "/etc/hostname", "-s", "nats://127.0.0.1:1"]);
        AssertOneLineError(cli, "give the payload either as an argument or with --file, not both");
    }

    [Fact]
    public async Task Invoke_MissingFile_OneLine()
    {
        var cli = await RawCli.RunAsync(["invoke", "hello", "--file", "/nonexistent/payload", "-s", "nats://127.0.0.1:1"]);
        Assert.NotEqual(0, cli.ExitCode);
        Assert.StartsWith("nex: cannot read --file '/nonexistent/payload'", cli.StdErr, StringComparison.Ordinal);
        Assert.Single(cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void RequireValidSubject_AcceptsConcreteSubjects()
    {
        InvokeCommand.RequireValidSubject("hello");
        InvokeCommand.RequireValidSubject("fn.echo.v1");
        InvokeCommand.RequireValidSubject("a.*b");
        Assert.Throws<CliException>(() => InvokeCommand.RequireValidSubject(""));
        Assert.Throws<CliException>(() => InvokeCommand.RequireValidSubject("a.>"));
        Assert.Throws<CliException>(() => InvokeCommand.RequireValidSubject(".a"));
    }
}
