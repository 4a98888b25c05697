using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests.Fleet;

/// <summary><c>kill -9</c> of a <c>nex node up</c> process on a 3-server cluster: its essential service answers again from the other node.</summary>
public sealed partial class KillNodeTests
{
    [Fact]
    public async Task KillNine_OfTheNodeThatRunsAnEssentialService_ItAnswersAgainFromTheOtherNode()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await NatsClusterFixture.StartAsync(ct);
        using var shared = new TempDirectory();
        var xkeySeed = shared.File("nexus.xk"); // the nexus xkey: the first node creates it, the second reads it
        await using var first = await StartNodeAsync(cluster, xkeySeed, "fleet-a");
        await using var second = await StartNodeAsync(cluster, xkeySeed, "fleet-b");
        await using var caller = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = cluster.Urls }, ct);

        using var dev = new TempDirectory();
        var subject = "svc.kill." + Guid.NewGuid().ToString("N")[..8];
        var devrun = await CliProcess.RunAsync(
            ["devrun", Examples.EchoService, "--argv", subject, "--essential", "-s", cluster.Urls],
            new Dictionary<string, string?> { ["NEX_HOME"] = dev.Path, ["HOME"] = dev.Path },
            TimeSpan.FromSeconds(90));
        Assert.True(devrun.ExitCode == 0, $"devrun: {devrun.StdOut}\n{devrun.StdErr}");
        var nodeId = AcceptedRegex().Match(devrun.StdOut).Groups[1].Value;
        await AnswerAsync(caller, subject, TimeSpan.FromSeconds(30), ct);
        var (victim, survivor) = first.NodeId == nodeId ? (first, second) : (second, first);
        Assert.Equal(nodeId, victim.NodeId);

        await using var rescheduled = await Recorder.StartAsync(caller, "$NEX.events.default.workload_rescheduled");
        var oldCopy = LiveProcesses.WithCommandLine(subject);
        var clock = Stopwatch.StartNew();
        victim.Process.Signal(9);
        await victim.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));

        // The killed node's copy dies with it, but not in the same instant: until it has, it may still answer.
        await NatsClusterWaits.EventuallyAsync(
            () => LiveProcesses.WithCommandLine(subject).Intersect(oldCopy).Any() ? throw new TimeoutException("the killed node's copy still runs") : Task.CompletedTask,
            "the killed node's copy gone",
            cancellationToken: ct);
        await AnswerAsync(caller, subject, TimeSpan.FromSeconds(60), ct);
        var seconds = clock.Elapsed.TotalSeconds;
        TestContext.Current.TestOutputHelper?.WriteLine($"kill -9 of the node to the first answer from the other node: {seconds:0.0} s (lease grace 10 s, heartbeat 2 s)");

        // One copy: the killed node's went with it (its children die with it), the survivor runs the other.
        await NatsClusterWaits.EventuallyAsync(
            () => LiveProcesses.WithCommandLine(subject).Count == 1 ? Task.CompletedTask : throw new TimeoutException($"{LiveProcesses.WithCommandLine(subject).Count} copies of the service"),
            "exactly one copy of the service",
            cancellationToken: ct);
        Assert.False(survivor.Process.Exited.IsCompleted, survivor.Process.StdErr);
        var moved = (await rescheduled.WaitAsync((_, _) => true, TimeSpan.FromSeconds(10), "workload_rescheduled")).Body.GetProperty("data");
        Assert.Equal(victim.NodeId, moved.GetProperty("from_node").GetString());
        Assert.Equal(survivor.NodeId, moved.GetProperty("to_node").GetString());
    }

    private sealed record Node(CliProcess Process, string NodeId, TempDirectory Home) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (!Process.Exited.IsCompleted)
            {
                Process.Signal(15);
                await Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
            }

            await Process.DisposeAsync();
            Home.Dispose();
        }
    }

    private static async Task<Node> StartNodeAsync(NatsClusterFixture cluster, string xkeySeed, string name)
    {
        var home = new TempDirectory();
        await File.WriteAllTextAsync(home.File("config.json"), $$"""{ "pid_filepath": "{{home.File("nex.pid")}}", "tags": { "node_name": "{{name}}" } }""");
        var up = CliProcess.Start(
            ["node", "up", "--server", cluster.Urls, "--config", home.File("config.json"), "--xkey-seed", xkeySeed],
            new Dictionary<string, string?> { ["NEX_HOME"] = home.Path, ["HOME"] = home.Path });
        try
        {
            await up.WaitForOutputAsync(" is up on ", TimeSpan.FromSeconds(60));
            var id = NodeIdRegex().Match(up.StdOut + up.StdErr).Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(id), up.StdOut + up.StdErr);
            return new Node(up, id, home);
        }
        catch
        {
            await up.DisposeAsync();
            home.Dispose();
            throw;
        }
    }

    private static async Task AnswerAsync(NatsConnection caller, string subject, TimeSpan within, CancellationToken ct)
    {
        var reply = await NatsClusterWaits.EventuallyAsync(
            async () => (await caller.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes("again"), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromMilliseconds(500) }, cancellationToken: ct)).Data!,
            "the service's answer",
            within,
            ct);
        Assert.Equal("again", Encoding.UTF8.GetString(reply));
    }

    [GeneratedRegex("accepted\\. You can now refer to this workload with ID: \\S+ on node (\\S+)")]
    private static partial Regex AcceptedRegex();

    [GeneratedRegex("Node (N[A-Z2-7]{55}) ")]
    private static partial Regex NodeIdRegex();
}
