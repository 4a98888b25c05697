using System.Text.Json;
using System.Text.RegularExpressions;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.NKeys;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests.Fleet;

/// <summary>
/// <c>--replicas N</c> and <c>nex stop &lt;name&gt;</c> wherever the workload runs (issue 17 items 4 and 6): the real CLI
/// against three in-process nodes on one nats-server with JetStream. Each test works in a namespace of its own.
/// </summary>
public sealed partial class ReplicasTests(ReplicasTests.NodesFixture fixture) : IClassFixture<ReplicasTests.NodesFixture>, IDisposable
{
    private const string Script = "#!/bin/sh\nexec sleep 600\n";

    private readonly TempDirectory _home = new();
    private readonly string _ns = "rep" + Guid.NewGuid().ToString("N")[..8];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Dictionary<string, string?> Env => new() { ["NEX_HOME"] = _home.Path, ["HOME"] = _home.Path };

    public void Dispose() => _home.Dispose();

    [Fact]
    public async Task DevRunReplicas3_OneCopyPerNode_DevRunAgainStill3_StopByNameLeavesNothing()
    {
        var file = WriteScript("replicated");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var first = Ok(await NexAsync("devrun", file, "--replicas", "3"));
        Report($"devrun --replicas 3: {clock.ElapsedMilliseconds} ms");
        var firstCopies = Copies(first, "replicated");
        Assert.Equal(fixture.NodeIds.Order(), firstCopies.Select(c => c.Node).Order()); // one per node
        Assert.Contains("3 of 3 copies of 'replicated' running on 3 nodes", first.StdOut, StringComparison.Ordinal);
        Assert.Equal(firstCopies.Select(c => c.Id).Order(), (await RunningAsync("replicated")).Order());
        await WaitForRecordsAsync("replicated", firstCopies.Select(c => c.Id));

        // Again: three new copies, the three previous stopped wherever they ran, and their records gone.
        clock.Restart();
        var second = Ok(await NexAsync("devrun", file, "--replicas", "3"));
        Report($"devrun --replicas 3 again (3 previous stopped): {clock.ElapsedMilliseconds} ms");
        var secondCopies = Copies(second, "replicated");
        Assert.Equal(3, secondCopies.Select(c => c.Node).Distinct().Count());
        foreach (var (id, _) in firstCopies)
        {
            Assert.Contains($"Stopped previous workload 'replicated' ({id})", second.StdOut, StringComparison.Ordinal);
        }

        Assert.Equal(secondCopies.Select(c => c.Id).Order(), (await RunningAsync("replicated")).Order());
        await WaitForRecordsAsync("replicated", secondCopies.Select(c => c.Id));

        // A name stops every copy, one line each.
        clock.Restart();
        var stop = Ok(await NexAsync("stop", "replicated"));
        Report($"stop of 3 copies by name: {clock.ElapsedMilliseconds} ms");
        foreach (var (id, node) in secondCopies)
        {
            Assert.Contains($"✅ Workload 'replicated' ({id}) stopped on node {node}.", stop.StdOut, StringComparison.Ordinal);
        }

        Assert.Empty(await RunningAsync("replicated"));
        await WaitForRecordsAsync("replicated", []);
    }

    [Fact]
    public async Task RunReplicas2_Json_ListsEveryCopy_OnDistinctNodes()
    {
        await new ArtifactStore(fixture.Nodes[0].Connection).UploadAsync(ArtifactStore.DevBucket, "runreplicas", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Script)), cancellationToken: Ct);

        var run = Ok(await NexAsync("run", "nats://NEXCLIFILES/runreplicas", "--replicas", "2", "--json"));

        using var doc = JsonDocument.Parse(run.StdOut);
        var copies = doc.RootElement.GetProperty("copies").EnumerateArray().Select(c => (Id: c.GetProperty("id").GetString()!, Node: c.GetProperty("node_id").GetString()!)).ToList();
        Assert.Equal(2, copies.Count);
        Assert.Equal(2, copies.Select(c => c.Node).Distinct().Count());
        Assert.Equal(copies[0].Id, doc.RootElement.GetProperty("id").GetString()); // the single-copy fields: the first copy
        Assert.Equal(copies.Select(c => c.Id).Order(), (await RunningAsync("runreplicas")).Order());
        Ok(await NexAsync("stop", "runreplicas"));
        Assert.Empty(await RunningAsync("runreplicas"));
    }

    [Fact]
    public async Task StopByName_AlsoStopsACopyRecordedForANodeThatIsGone_AndRemovesItsRecord()
    {
        var file = WriteScript("survivor");
        var (running, _) = Assert.Single(Copies(Ok(await NexAsync("devrun", file)), "survivor"));
        using var issuer = DevKeys.LoadOrCreateIssuer(_home.Path);
        var orphan = await PutOrphanRecordAsync("survivor", issuer);

        // Another issuer's orphan of the same name is not ours to stop, and must not make our stop fail.
        using var stranger = NexKeys.CreateAccount();
        var strangers = await PutOrphanRecordAsync("survivor", stranger);

        var stop = Ok(await NexAsync("stop", "survivor"));

        Assert.Contains($"({running}) stopped on node", stop.StdOut, StringComparison.Ordinal);
        Assert.Contains($"({orphan.Id}) stopped on node", stop.StdOut, StringComparison.Ordinal);
        Assert.Empty(await RunningAsync("survivor"));
        await WaitForRecordsAsync("survivor", [strangers.Id]);
    }

    [Fact]
    public async Task StopById_OfARecordedCopyWhoseNodeIsGone_StopsItForGood()
    {
        using var issuer = DevKeys.LoadOrCreateIssuer(_home.Path);
        var orphan = await PutOrphanRecordAsync("waiting", issuer);

        var stop = Ok(await NexAsync("stop", orphan.Id));

        Assert.Contains("✅ Workload 'waiting' stopped.", stop.StdOut, StringComparison.Ordinal);
        await WaitForRecordsAsync("waiting", []);
    }

    [Theory]
    [InlineData("0", "--replicas must be between 1 and 100 (got 0)")]
    [InlineData("-2", "--replicas must be between 1 and 100 (got -2)")]
    [InlineData("101", "--replicas must be between 1 and 100 (got 101)")]
    public async Task BadReplicaCounts_AreOneLine_BeforeAnythingIsSent(string replicas, string expected)
    {
        var file = WriteScript("counted");
        AssertFailsWith(await CliProcess.RunAsync(["devrun", file, "--replicas", replicas, "-s", "nats://127.0.0.1:1"], Env), expected);
        AssertFailsWith(await CliProcess.RunAsync(["run", "nats://NEXCLIFILES/counted", "--replicas", replicas, "-s", "nats://127.0.0.1:1"], Env), expected);
    }

    [Fact]
    public async Task ReplicasWithANamedNode_IsRefused()
    {
        var file = WriteScript("pinned");
        AssertFailsWith(await CliProcess.RunAsync(["devrun", file, "--replicas", "2", "--node", "N1", "-s", "nats://127.0.0.1:1"], Env), "--replicas needs an auction; drop --node");
        AssertFailsWith(await CliProcess.RunAsync(["run", "nats://NEXCLIFILES/pinned", "N1", "--replicas", "2", "-s", "nats://127.0.0.1:1"], Env), "--replicas needs an auction; drop --node");
    }

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private Task<CliProcess> NexAsync(params string[] args) =>
        CliProcess.RunAsync([.. args, "-n", _ns, "-s", fixture.Url], Env, TimeSpan.FromSeconds(120));

    private static CliProcess Ok(CliProcess cli)
    {
        Assert.True(cli.ExitCode == 0, $"exit {cli.ExitCode}\nstdout:\n{cli.StdOut}\nstderr:\n{cli.StdErr}");
        return cli;
    }

    private static void AssertFailsWith(CliProcess cli, string expected)
    {
        Assert.NotEqual(0, cli.ExitCode);
        var lines = cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{cli.StdErr}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    private static List<(string Id, string Node)> Copies(CliProcess cli, string name) =>
        [.. AcceptedRegex().Matches(cli.StdOut).Select(m =>
        {
            Assert.Equal(name, m.Groups[1].Value);
            return (m.Groups[2].Value, m.Groups[3].Value);
        })];

    private string WriteScript(string name)
    {
        var path = _home.File(name);
        File.WriteAllText(path, Script);
        return path;
    }

    private NexClient Client => new(fixture.Nodes[0].Connection, new NexClientOptions { Namespace = _ns, Timeout = TimeSpan.FromSeconds(2) });

    private async Task<List<string>> RunningAsync(string name) =>
        [.. (await Client.FindWorkloadsAsync(name, Ct)).Select(w => w.Workload.Id)];

    private async Task<List<DesiredRecord>> RecordsAsync(string name) =>
        [.. (await DesiredStateReader.ReadAsync(fixture.Nodes[0].Connection, Ct) ?? []).Where(r => r.Workload.Namespace == _ns && r.Workload.Name == name)];

    // A record's removal follows its workload's end: wait for the set of current ids to settle.
    private async Task WaitForRecordsAsync(string name, IEnumerable<string> ids)
    {
        var expected = ids.Order().ToList();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        List<string> actual;
        while (!(actual = [.. (await RecordsAsync(name)).Select(r => r.Workload.WorkloadId).Order()]).SequenceEqual(expected))
        {
            Assert.True(DateTime.UtcNow < deadline, $"records of '{name}': [{string.Join(", ", actual)}], expected [{string.Join(", ", expected)}]");
            await Task.Delay(100, Ct);
        }
    }

    /// <summary>A record for a node that no longer exists, signed by <paramref name="issuer"/>.</summary>
    private async Task<(string Key, string Id)> PutOrphanRecordAsync(string name, KeyPair issuer) =>
        await DesiredRecords.PutAsync(fixture.Nodes[0].Connection, _ns, name, issuer, NexKeys.CreateServer().GetPublicKey(), cancellationToken: Ct);

    [GeneratedRegex(@"🚀 Workload '([^']+)' accepted\. You can now refer to this workload with ID: (\S+) on node (\S+)")]
    private static partial Regex AcceptedRegex();

    /// <summary>Three nodes with desired state on one nats-server with JetStream, for the class.</summary>
    public sealed class NodesFixture : IAsyncLifetime
    {
        private readonly NatsServerFixture _nats = new();
        private TestNode[] _nodes = [];

        public string Url => _nats.Url;

        public IReadOnlyList<TestNode> Nodes => _nodes;

        public IReadOnlyList<string> NodeIds => [.. _nodes.Select(n => n.NodeId)];

        public async ValueTask InitializeAsync()
        {
            await _nats.InitializeAsync();
            _nodes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => TestNode.StartAsync(_nats.Url)));
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var node in _nodes)
            {
                await node.DisposeAsync();
            }

            await _nats.DisposeAsync();
        }
    }
}
