using System.Globalization;
using System.Text.Json;
using Nex.Node.Nats;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex logs</c> and <c>nex events</c> end to end: the real CLI against a real node and nats-server.</summary>
public sealed class MonitorCommandsTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>, IDisposable
{
    // Prints until stopped: the watcher may subscribe after the first line, and --count ends it anyway.
    private const string Script = "#!/bin/sh\nwhile true; do echo \"hello $GREETING\"; sleep 0.2; done\n";

    private readonly TempDirectory _home = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Dictionary<string, string?> Env => new() { ["NEX_HOME"] = _home.Path, ["HOME"] = _home.Path };

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task LogsJson_PrintsOneObjectPerLine_WithTimeNodeNamespaceWorkloadAndLevel()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var file = _home.File("chatty.service");
        await File.WriteAllTextAsync(file, Script, Ct);
        var devrun = await CliProcess.RunAsync(["devrun", file, "GREETING=world", "-s", nats.Url], Env, TimeSpan.FromSeconds(90));
        Assert.True(devrun.ExitCode == 0, devrun.StdErr);

        var json = await CliProcess.RunAsync(["logs", "--json", "--workload", "chattyservice", "--count", "3", "-s", nats.Url], Env, TimeSpan.FromSeconds(60));
        Assert.Equal(0, json.ExitCode);
        var lines = json.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var nodeName = (await node.Client.PingNodeAsync(node.NodeId, Ct)).Tags!["node_name"];
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            var time = e.GetProperty("time").GetString()!;
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", time);
            Assert.True(DateTimeOffset.Parse(time, CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5), time);
            Assert.Equal(node.NodeId, e.GetProperty("node").GetString());
            Assert.Equal(nodeName, e.GetProperty("node_name").GetString());
            Assert.Equal("default", e.GetProperty("namespace").GetString());
            Assert.Equal("chattyservice", e.GetProperty("workload_name").GetString());
            Assert.False(string.IsNullOrEmpty(e.GetProperty("workload_id").GetString()));
            Assert.True(LogLevels.TryParse(e.GetProperty("level").GetString(), out _), line);
            Assert.Equal("hello world", e.GetProperty("text").GetString());
        }

        // Redirected output (as here) is plain: no colour codes.
        var plain = await CliProcess.RunAsync(["logs", "--workload", "chattyservice", "--count", "1", "-s", nats.Url], Env, TimeSpan.FromSeconds(60));
        Assert.Equal(0, plain.ExitCode);
        Assert.Contains("chattyservice/", plain.StdOut, StringComparison.Ordinal);
        Assert.EndsWith(": hello world", plain.StdOut.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain('\e', plain.StdOut);
    }

    [Fact]
    public async Task EventsCount_ExitsAfterThatManyEvents()
    {
        // Probes until it has printed one, so it does not matter when it subscribed.
        await using var events = CliProcess.Start(["events", "--count", "1", "-s", nats.Url], Env);
        await CliTestSupport.UntilWatchersSeeAProbeAsync(nats.Url, "count", events);
        await events.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, events.ExitCode);
        Assert.Single(events.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task EventsAndLogs_SayOnStderrWhenTheServerGoesAndComesBack()
    {
        var port = CliTestSupport.FreePort();
        var server = await NatsServerProcess.StartAsync(new NatsServerOptions { Port = port, JetStream = false }, cancellationToken: Ct);
        try
        {
            var url = server.ClientUrl;
            await using var events = CliProcess.Start(["events", "-s", url], Env);
            await using var logs = CliProcess.Start(["logs", "--json", "-s", url], Env);
            await CliTestSupport.UntilWatchersSeeAProbeAsync(url, "before", events, logs);

            await server.DisposeAsync();
            await events.WaitForOutputAsync("connection to NATS lost", TimeSpan.FromSeconds(30));
            await logs.WaitForOutputAsync("connection to NATS lost", TimeSpan.FromSeconds(30));

            server = await NatsServerProcess.StartAsync(new NatsServerOptions { Port = port, JetStream = false }, cancellationToken: Ct);
            await events.WaitForOutputAsync("connection to NATS restored", TimeSpan.FromSeconds(30));
            await logs.WaitForOutputAsync("connection to NATS restored", TimeSpan.FromSeconds(30));
            await CliTestSupport.UntilWatchersSeeAProbeAsync(url, "after", events, logs);

            // One line each, on stderr; stdout stays what was received (JSON lines for logs --json).
            foreach (var cli in new[] { events, logs })
            {
                Assert.Single(cli.StdErr.Split('\n'), l => l.Contains("connection to NATS lost", StringComparison.Ordinal));
                Assert.Single(cli.StdErr.Split('\n'), l => l.Contains("connection to NATS restored", StringComparison.Ordinal));
                Assert.DoesNotContain("connection to NATS", cli.StdOut, StringComparison.Ordinal);
            }

            Assert.All(logs.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => JsonDocument.Parse(l).Dispose());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
