using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Nex.Client;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex devrun</c>, <c>run</c>, <c>stop</c> and <c>workload ls</c> end to end: the real CLI against a real node.</summary>
public sealed partial class WorkloadCommandsTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>, IDisposable
{
    private const string Script = "#!/bin/sh\necho \"hello $GREETING\"\nexec sleep 600\n";

    private readonly TempDirectory _home = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Dictionary<string, string?> Env => new() { ["NEX_HOME"] = _home.Path, ["HOME"] = _home.Path };

    public void Dispose() => _home.Dispose();

    private async Task<CliProcess> NexAsync(params string[] args)
    {
        var cli = await CliProcess.RunAsync([.. args, "-s", nats.Url], Env, TimeSpan.FromSeconds(90));
        return cli;
    }

    private static CliProcess AssertSuccess(CliProcess cli)
    {
        Assert.True(cli.ExitCode == 0, $"exit {cli.ExitCode}\nstdout:\n{cli.StdOut}\nstderr:\n{cli.StdErr}");
        return cli;
    }

    private static (string Id, string Node) Accepted(CliProcess cli, string name)
    {
        AssertSuccess(cli);
        var match = AcceptedRegex().Match(cli.StdOut);
        Assert.True(match.Success, $"no 🚀 line in:\n{cli.StdOut}");
        Assert.Equal(name, match.Groups[1].Value);
        return (match.Groups[2].Value, match.Groups[3].Value);
    }

    private static void AssertFailsWith(CliProcess cli, string expected)
    {
        Assert.NotEqual(0, cli.ExitCode);
        var lines = cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{cli.StdErr}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    private string WriteScript(string name)
    {
        var path = _home.File(name);
        File.WriteAllText(path, Script);
        return path;
    }

    [Fact]
    public async Task DevRun_List_AndStopByName()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var file = WriteScript("echo.service");

        var devrun = await NexAsync("devrun", file, "GREETING=world");
        var (id, nodeId) = Accepted(devrun, "echoservice");
        Assert.Equal(node.NodeId, nodeId);
        Assert.Contains($"uploaded {Script.Length} bytes to nats://NEXCLIFILES/echoservice", devrun.StdOut, StringComparison.Ordinal);
        Assert.True(File.Exists(DevKeys.IssuerPath(_home.Path)) && File.Exists(DevKeys.XkeyPath(_home.Path)), "devrun creates the developer keys");

        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        var machine = Assert.Single(info.Machines);
        Assert.Equal(id, machine.Id);
        Assert.Equal("echoservice", machine.Workload.Name);
        Assert.Equal("Workload published in devmode", machine.Workload.Description);
        Assert.Equal("native", machine.Workload.Type);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Script))), machine.Workload.Hash);

        var ls = AssertSuccess(await NexAsync("workload", "ls", "--timeout", "1s"));
        Assert.Contains(id, ls.StdOut, StringComparison.Ordinal);
        Assert.Contains("echoservice", ls.StdOut, StringComparison.Ordinal);
        Assert.Contains(node.Node.Tags["node_name"], ls.StdOut, StringComparison.Ordinal);

        // node info shows what the workload's machine uses (no sandbox: no limit).
        var nodeInfo = AssertSuccess(await NexAsync("node", "info", node.NodeId));
        Assert.Matches(@"\d+\.\d MiB", nodeInfo.StdOut);
        Assert.Matches(@"\d+\.\d\d s", nodeInfo.StdOut);

        // --json prints the table's rows.
        var json = AssertSuccess(await NexAsync("workload", "list", "--timeout", "1s", "--json"));
        using (var doc = JsonDocument.Parse(json.StdOut))
        {
            var row = Assert.Single(doc.RootElement.EnumerateArray());
            Assert.Equal(id, row.GetProperty("id").GetString());
            Assert.Equal("echoservice", row.GetProperty("name").GetString());
            Assert.Equal("native", row.GetProperty("type").GetString());
            Assert.Equal("default", row.GetProperty("namespace").GetString());
            Assert.Equal(node.NodeId, row.GetProperty("node_id").GetString());
            Assert.Equal(node.Node.Tags["node_name"], row.GetProperty("node_name").GetString());
        }

        var stop = AssertSuccess(await NexAsync("stop", "echoservice"));
        Assert.Contains("✅ Workload 'echoservice' stopped.", stop.StdOut, StringComparison.Ordinal);

        var after = AssertSuccess(await NexAsync("workload", "ls", "--timeout", "1s"));
        Assert.Contains("No workloads matched", after.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DevRun_Again_StopsThePrevious_AndAnImmediateStopIn02FormWorks()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var file = WriteScript("echoservice");

        var (first, _) = Accepted(await NexAsync("devrun", file, "--node", node.Node.Tags["node_name"]), "echoservice");
        var again = await NexAsync("yeet", file);
        var (second, _) = Accepted(again, "echoservice");
        Assert.NotEqual(first, second);
        Assert.Contains($"Stopped previous workload 'echoservice' ({first})", again.StdOut, StringComparison.Ordinal);
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        Assert.Equal(second, Assert.Single(info.Machines).Id);

        // Right away, in the same second as the deploy if the machine is fast: the stop token must still differ.
        var stop = AssertSuccess(await NexAsync("stop", node.NodeId, second, "--json"));
        using var doc = JsonDocument.Parse(stop.StdOut);
        Assert.True(doc.RootElement.GetProperty("stopped").GetBoolean());
        Assert.Equal(second, doc.RootElement.GetProperty("id").GetString());
        Assert.Equal("echoservice", doc.RootElement.GetProperty("name").GetString());
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);
    }

    [Fact]
    public async Task DevRun_RefusedByTheNode_LeavesThePreviousRunning_AndJsonNamesTheNode()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { MachinePoolSize = 2, DenyTriggerSubjects = ["secret.>"] });
        var file = WriteScript("guarded");
        var first = AssertSuccess(await NexAsync("devrun", file, "--json"));
        string firstId;
        using (var doc = JsonDocument.Parse(first.StdOut))
        {
            firstId = doc.RootElement.GetProperty("id").GetString()!;
            Assert.Equal(node.NodeId, doc.RootElement.GetProperty("node_id").GetString());
            Assert.Empty(doc.RootElement.GetProperty("stopped").EnumerateArray());
        }

        // Passes the local checks, refused by the node (deny list, or no v8 on this node): the running one must stay.
        var refused = await NexAsync("devrun", file, "--type", "v8", "--trigger", "secret.x", "--node", node.NodeId);
        AssertFailsWith(refused, "nex: ");
        Assert.DoesNotContain("Stopped previous", refused.StdOut, StringComparison.Ordinal);
        Assert.Equal(firstId, Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines).Id);

        // Accepted: the new one is deployed first, then the previous one stopped.
        var again = AssertSuccess(await NexAsync("devrun", file, "--json"));
        using (var doc = JsonDocument.Parse(again.StdOut))
        {
            var secondId = doc.RootElement.GetProperty("id").GetString()!;
            Assert.Equal(firstId, Assert.Single(doc.RootElement.GetProperty("stopped").EnumerateArray()).GetString());
            Assert.Equal(secondId, Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines).Id);
        }
    }

    [Fact]
    public async Task DevRun_StopFalse_KeepsThePrevious()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { MachinePoolSize = 2 });
        var file = WriteScript("keeper");
        var (first, _) = Accepted(await NexAsync("devrun", file), "keeper");
        var (second, _) = Accepted(await NexAsync("devrun", file, "--stop=false"), "keeper");
        var ids = (await node.Client.InfoAsync(node.NodeId, Ct)).Machines.Select(m => m.Id).Order().ToList();
        Assert.Equal(new[] { first, second }.Order().ToList(), ids);

        // A name stops every workload of that name (issue 17), one line each.
        var both = AssertSuccess(await NexAsync("stop", "keeper"));
        Assert.Contains($"✅ Workload 'keeper' ({first}) stopped on node {node.NodeId}.", both.StdOut, StringComparison.Ordinal);
        Assert.Contains($"✅ Workload 'keeper' ({second}) stopped on node {node.NodeId}.", both.StdOut, StringComparison.Ordinal);
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);
    }

    [Fact]
    public async Task Run_AnUploadedArtifact_ByAuction_WithOwnKeys()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var upload = await new ArtifactStore(node.Connection).UploadAsync(ArtifactStore.DevBucket, "runservice", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Script)), cancellationToken: Ct);
        var issuerFile = _home.File("issuer.seed");
        var xkeyFile = _home.File("x.seed");
        string issuerPublic;
        using (var issuer = NexKeys.CreateAccount())
        using (var xkey = NexKeys.CreateCurve())
        {
            NexKeys.WriteSeedFile(issuerFile, issuer);
            NexKeys.WriteSeedFile(xkeyFile, xkey);
            issuerPublic = issuer.GetPublicKey();
        }

        var run = AssertSuccess(await NexAsync(
            "run", upload.Location.ToString(), "GREETING=run", "--issuer", issuerFile, "--xkey", xkeyFile, "--name", "runner",
            "--description", "from run", "--hash", upload.Sha256, "-e", "OTHER=1", "--json"));
        using (var doc = JsonDocument.Parse(run.StdOut))
        {
            Assert.True(doc.RootElement.GetProperty("started").GetBoolean());
            Assert.Equal("runner", doc.RootElement.GetProperty("name").GetString());
            Assert.Equal(issuerPublic, doc.RootElement.GetProperty("issuer").GetString());
        }

        var machine = Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);
        Assert.Equal("from run", machine.Workload.Description);
        Assert.Equal(upload.Sha256, machine.Workload.Hash);

        // Only the issuer can stop it: the developer key cannot.
        AssertFailsWith(await NexAsync("stop", "runner"), "no --issuer given and no developer issuer");
        using (var other = NexKeys.CreateAccount())
        {
            NexKeys.WriteSeedFile(_home.File("other.seed"), other);
        }

        AssertFailsWith(await NexAsync("stop", "runner", "--issuer", _home.File("other.seed")), "the only entity allowed to terminate a workload is the issuer that originally started it");
        var stop = AssertSuccess(await NexAsync("stop", "runner", "--issuer", issuerFile));
        Assert.Contains("✅ Workload 'runner' stopped.", stop.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_02Form_NodePositional_DefaultNameFromTheKey()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await new ArtifactStore(node.Connection).UploadAsync(ArtifactStore.DevBucket, "my.service", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Script)), cancellationToken: Ct);
        var (id, nodeId) = Accepted(await NexAsync("run", "nats://NEXCLIFILES/my.service", node.NodeId, "GREETING=x"), "myservice");
        Assert.Equal(node.NodeId, nodeId);
        AssertSuccess(await NexAsync("stop", node.NodeId, "myservice"));
        Assert.DoesNotContain((await node.Client.InfoAsync(node.NodeId, Ct)).Machines, m => m.Id == id);
    }

    [Fact]
    public async Task NodeErrors_AreOneLine()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        AssertFailsWith(await NexAsync("run", "nats://NEXCLIFILES/nosuchobject", node.NodeId), "Failed to cache workload bytes");
        AssertFailsWith(await NexAsync("stop", "nosuch", "--timeout", "500ms", "--issuer", WriteIssuer()), "no workload 'nosuch' found in namespace 'default'");
        AssertFailsWith(await NexAsync("stop", node.NodeId, "nosuch", "--issuer", WriteIssuer()), $"no workload 'nosuch' found on node {node.NodeId} in namespace 'default'");
        AssertFailsWith(await NexAsync("stop", node.NodeId, "cq2v4h3m0lq6c5k2m3ig", "--name", "x", "--issuer", WriteIssuer()), "No such workload");
    }

    [Fact]
    public async Task NoNodes_AuctionFindsNobody()
    {
        await using var server = await Nex.Node.Nats.NatsServerProcess.StartAsync(new Nex.Node.Nats.NatsServerOptions { JetStream = true }, cancellationToken: Ct);
        var file = WriteScript("lonely");
        var devrun = await CliProcess.RunAsync(["devrun", file, "-s", server.ClientUrl, "--timeout", "300ms"], Env);
        AssertFailsWith(devrun, "unable to locate candidate node - no nodes discovered");
        var run = await CliProcess.RunAsync(["run", "nats://NEXCLIFILES/lonely", "-s", server.ClientUrl, "--timeout", "300ms"], Env);
        AssertFailsWith(run, "unable to locate candidate node - no nodes discovered");
    }

    private string WriteIssuer()
    {
        var path = _home.File("issuer-" + Guid.NewGuid().ToString("N")[..6]);
        using var kp = NexKeys.CreateAccount();
        NexKeys.WriteSeedFile(path, kp);
        return path;
    }

    [GeneratedRegex("🚀 Workload '([^']+)' accepted\\. You can now refer to this workload with ID: (\\S+) on node (\\S+)")]
    private static partial Regex AcceptedRegex();
}
