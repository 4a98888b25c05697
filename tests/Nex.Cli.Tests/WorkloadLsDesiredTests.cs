using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex workload ls --desired</c>: the desired-state records against what runs.</summary>
public sealed class WorkloadLsDesiredTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>, IDisposable
{
    private readonly TempDirectory _home = new();

    private Dictionary<string, string?> Env => new() { ["NEX_HOME"] = _home.Path, ["HOME"] = _home.Path };

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task Desired_ShowsTheRecord_RunningWhileItRuns_AndNotOnceItsNodeIsGone()
    {
        var file = _home.File("sleeper");
        await File.WriteAllTextAsync(file, "#!/bin/sh\nexec sleep 600\n", TestContext.Current.CancellationToken);
        string nodeId;
        await using (var node = await TestNode.StartAsync(nats.Url))
        {
            nodeId = node.NodeId;
            Assert.Equal(0, (await NexAsync("devrun", file)).ExitCode);
            var running = await DesiredRowsAsync();
            var row = Assert.Single(running);
            Assert.Equal("sleeper", row.GetProperty("name").GetString());
            Assert.Equal(nodeId, row.GetProperty("node_id").GetString());
            Assert.True(row.GetProperty("running").GetBoolean());

            var table = await NexAsync("workload", "ls", "--desired", "--timeout", "1s");
            Assert.Contains("Running", table.StdOut, StringComparison.Ordinal);
            Assert.Contains("yes", table.StdOut, StringComparison.Ordinal);
        }

        // The node went away without a STOP: still desired, no longer running.
        var gone = Assert.Single(await DesiredRowsAsync());
        Assert.False(gone.GetProperty("running").GetBoolean());
        Assert.Equal(nodeId, gone.GetProperty("node_id").GetString());
        var plain = await NexAsync("workload", "ls", "--timeout", "1s");
        Assert.Contains("No workloads matched", plain.StdOut, StringComparison.Ordinal); // the default output is 0.2's
    }

    private async Task<List<JsonElement>> DesiredRowsAsync()
    {
        var cli = await NexAsync("workload", "ls", "--desired", "--json", "--timeout", "1s");
        Assert.True(cli.ExitCode == 0, cli.StdErr);
        using var doc = JsonDocument.Parse(cli.StdOut);
        return [.. doc.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    private Task<CliProcess> NexAsync(params string[] args) => CliProcess.RunAsync([.. args, "-s", nats.Url], Env, TimeSpan.FromSeconds(90));
}
