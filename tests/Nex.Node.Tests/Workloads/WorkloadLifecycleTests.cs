using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>Native workloads end to end: real node, real agents, real processes (spec §1.8–1.9, §4, §7).</summary>
public sealed class WorkloadLifecycleTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Bucket() => "T" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

    [Fact]
    public async Task EchoService_Deploys_Answers_Logs_ListsItsHash_AndStopsWithoutTrace()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");
        var bytes = await File.ReadAllBytesAsync(Examples.EchoService, Ct);
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "echoservice", bytes);
        var subject = "svc.echo." + Guid.NewGuid().ToString("N")[..8];
        var issuer = NexKeys.CreateAccount();

        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, issuer: issuer, location: location, argv: [subject]));
        Assert.Null(error);
        Assert.True(Xid.IsValid(id!));

        await logs.WaitAsync((s, b) => s == $"$NEX.logs.default.{node.NodeId}.echoservice.{id}" && b.GetProperty("text").GetString()!.Contains("Echo service using NATS url", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the service's first log line");
        // The service prints its banner before it subscribes: ask until it answers.
        Assert.Equal("ping me", await RequestUntilAnsweredAsync(node.Connection, subject, "ping me"));

        var deployed = await events.WaitForEventAsync("workload_deployed", id!);
        Assert.Equal($"$NEX.events.default.workload_deployed", deployed.Subject);
        Assert.Equal($"{node.NodeId}-{id}", deployed.Body.GetProperty("source").GetString());
        Assert.Equal("default", deployed.Body.GetProperty("namespace").GetString());

        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        var machine = Assert.Single(info.Machines);
        Assert.Equal(id, machine.Id);
        Assert.Equal(Artifacts.Sha256(bytes), machine.Workload.Hash);
        Assert.Equal("echoservice", machine.Workload.Name);
        // The machine's use: without a sandbox, the agent's process tree (agent and service at least), no limit.
        var resources = Assert.IsType<MachineResources>(machine.Resources);
        Assert.True(resources.MemoryBytes > 1024 * 1024, $"memory {resources.MemoryBytes}");
        Assert.True(resources.Processes >= 2, $"processes {resources.Processes}");
        Assert.True(resources.CpuSeconds >= 0);
        Assert.Null(resources.MemoryLimitBytes);
        Assert.Equal(1, (await node.Client.PingNodeAsync(node.NodeId, Ct)).RunningMachines);
        Assert.NotEmpty(LiveProcesses.WithCommandLine($"workload-{id}"));

        var stop = await new NexClient(node.Connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(15) }).StopAsync(node.NodeId, WorkloadRequestsForTests.Stop(node.NodeId, id!, "echoservice", issuer), Ct);
        Assert.True(stop.Stopped);
        Assert.Empty(LiveProcesses.WithCommandLine($"workload-{id}")); // gone when the reply says stopped
        var undeployed = await events.WaitForEventAsync("workload_undeployed", id!);
        Assert.Equal("Workload shutdown requested", undeployed.Body.GetProperty("data").GetProperty("reason").GetString());
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);
        await WaitUntilAsync(() => Task.FromResult(!AgentPids(id!).Any()), "the agent to exit");
    }

    [Fact]
    public async Task IndependentRequest_FromTestVectorKeys_IsAccepted_AndItsEnvironmentArrivesDecrypted()
    {
        var vectors = TestVectors.Load();
        using var keys = new TempDirectory();
        var xkeyFile = keys.File("node.xk");
        await File.WriteAllTextAsync(xkeyFile, vectors.GetProperty("xkv1").GetProperty("recipient_seed").GetString() + "\n", Ct);
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { XkeySeedFile = xkeyFile });
        Assert.Equal(vectors.GetProperty("xkv1").GetProperty("recipient_public").GetString(), node.Node.PublicXKey);
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");

        var script = Artifacts.Script("echo \"luggage=$TOP_SECRET_LUGGAGE unicode=$UNICODE\"\nexec /bin/sleep 60");
        var bucket = Bucket();
        await Artifacts.UploadAsync(node.Connection, bucket, "echoservice", script);

        // Built by hand from the spec (§13), every secret made by nkeys.js.
        var request = $$"""
            {"description":"vector deploy","type":"native",
             "location":{"Scheme":"nats","Opaque":"","User":null,"Host":"{{bucket}}","Path":"/echoservice","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""},
             "essential":false,
             "workload_jwt":"{{vectors.GetProperty("workload_jwt").GetProperty("deploy").GetString()}}",
             "environment":"{{vectors.GetProperty("xkv1").GetProperty("sealed_base64").GetString()}}",
             "jsdomain":"",
             "sender_public_key":"{{vectors.GetProperty("xkv1").GetProperty("sender_public").GetString()}}",
             "target_node":"{{node.NodeId}}"}
            """;
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, request);
        Assert.Null(error);
        var line = await logs.WaitAsync((s, b) => s.EndsWith("." + id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.Contains("luggage=", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the env line");
        Assert.Contains("luggage=12345 unicode=ünïcødé ✓", line.Body.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal("INFO", line.Body.GetProperty("level").GetString());
    }

    [Fact]
    public async Task ExitCode_IsReported_AndTheWorkloadLeavesTheListings()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "quitter", Artifacts.Script("echo bye\necho oops >&2\nexit 7"));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "quitter", location: location));
        Assert.Null(error);
        var undeployed = await events.WaitForEventAsync("workload_undeployed", id!);
        var data = undeployed.Body.GetProperty("data");
        Assert.Equal(7, data.GetProperty("code").GetInt32());
        Assert.Equal($"Exited workload: quitter; vm: {id}; status: 7", data.GetProperty("message").GetString());
        Assert.Equal($"{node.NodeId}-{id}", undeployed.Body.GetProperty("source").GetString());
        await WaitUntilAsync(async () => (await node.Client.InfoAsync(node.NodeId, Ct)).Machines.Count == 0, "the workload to leave INFO");
        Assert.Single(events.All, e => e.Subject.EndsWith(".workload_undeployed", StringComparison.Ordinal) && e.Body.GetProperty("source").GetString()!.StartsWith(node.NodeId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KillMinus9OfTheAgent_IsReportedWithinOneSecond_AndTheWorkloadDies()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location));
        Assert.Null(error);
        await WaitUntilAsync(() => Task.FromResult(LiveProcesses.WithCommandLine($"workload-{id}").Count > 0), "the workload process");

        var agentPid = Assert.Single(AgentPids(id!));
        var killedAt = DateTime.UtcNow;
        Nex.Processes.Posix.Signal(agentPid, 9);
        var undeployed = await events.WaitForEventAsync("workload_undeployed", id!, TimeSpan.FromSeconds(5));
        Assert.True(undeployed.At - killedAt < TimeSpan.FromSeconds(1), $"reported after {(undeployed.At - killedAt).TotalMilliseconds} ms");
        Assert.Equal(-1, undeployed.Body.GetProperty("data").GetProperty("code").GetInt32());
        await LiveProcesses.WaitUntilGoneAsync($"workload-{id}", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task EssentialService_IsRestartedWithANewId_AfterItsBackoff_ButNotAfterLameDuck()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { EssentialRestart = new() { InitialBackoffMs = 200, MaxBackoffMs = 400 } });
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "flaky", Artifacts.Script("/bin/sleep 0.3\nexit 3"));
        var (first, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "flaky", location: location, essential: true));
        Assert.Null(error);
        await events.WaitForEventAsync("workload_undeployed", first!);

        var restarted = await events.WaitAsync(
            (s, b) => s.EndsWith(".workload_deployed", StringComparison.Ordinal)
                && b.GetProperty("source").GetString()!.StartsWith(node.NodeId, StringComparison.Ordinal)
                && !b.GetProperty("source").GetString()!.EndsWith(first!, StringComparison.Ordinal),
            TimeSpan.FromSeconds(15),
            "a restart");
        var second = restarted.Body.GetProperty("source").GetString()![(node.NodeId.Length + 1)..];
        Assert.NotEqual(first, second);
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        Assert.Contains(info.Machines, m => m.Id == second && m.RetryCount >= 1 && m.Essential);

        await node.Client.LameDuckAsync(node.NodeId, Ct);
        await events.WaitForEventAsync("workload_undeployed", second);
        await Task.Delay(1500, Ct); // longer than the backoff
        await WaitUntilAsync(async () => (await node.Client.InfoAsync(node.NodeId, Ct)).Machines.Count == 0, "no restart after lame duck");
    }

    [Fact]
    public async Task WarmPool_Refills_AndEachDeployGetsItsOwnAgent()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { MachinePoolSize = 2 });
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper" + i, location: location));
            Assert.Null(error);
            ids.Add(id!);
        }

        Assert.Equal(3, ids.Distinct().Count());
        var machines = (await node.Client.InfoAsync(node.NodeId, Ct)).Machines;
        Assert.Equal(ids.Order(), machines.Select(m => m.Id).Order());
        foreach (var id in ids)
        {
            // 0.2 bound a deploy to the wrong agent when the pool was larger than one (§11 #3).
            Assert.NotEmpty(LiveProcesses.WithCommandLine($"workload-{id}"));
        }
    }

    [Fact]
    public async Task RejectedDeploys_StillGetTheirAgentsReplaced()
    {
        // The pool replaces a taken agent when its deploy is done, failed ones included: with a pool
        // of one, a deploy that found no replacement would wait for none and fail.
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { MachinePoolSize = 1 });
        var bucket = Bucket();
        var location = await Artifacts.UploadAsync(node.Connection, bucket, "sleeper", Artifacts.Script("/bin/sleep 300"));
        for (var i = 0; i < 3; i++)
        {
            var (_, rejected) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: $"nats://{bucket}/missing"));
            Assert.Equal($"Failed to cache workload bytes: object 'missing' not found in bucket '{bucket}'", rejected);
        }

        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location));
        Assert.Null(error);
        Assert.NotEmpty(LiveProcesses.WithCommandLine($"workload-{id}"));
    }

    [Fact]
    public async Task Stop_ChecksIssuerNamespaceAndReplay()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var issuer = NexKeys.CreateAccount();
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var deployJwt = WorkloadJwt.Issue(issuer, "sleeper", null, DateTimeOffset.UtcNow);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location, jwt: deployJwt));
        Assert.Null(error);

        async Task<string?> StopError(string ns, string jwt, string workloadId)
        {
            using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.STOP.{ns}.{node.NodeId}", JsonSerializer.Serialize(new StopRequest { WorkloadId = workloadId, WorkloadJwt = jwt, TargetNode = node.NodeId }, NexJson.Context.StopRequest), TimeSpan.FromSeconds(10));
            return reply!.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
        }

        var later = DateTimeOffset.UtcNow.AddSeconds(2);
        Assert.Equal("Invalid stop request: the only entity allowed to terminate a workload is the issuer that originally started it", await StopError("default", WorkloadJwt.Issue(NexKeys.CreateAccount(), "sleeper", null, later), id!));
        Assert.Equal("Invalid stop request: stop claims subject does not match original start claims subject", await StopError("default", WorkloadJwt.Issue(issuer, "other", null, later), id!));
        Assert.Equal("Invalid stop request: stop claims appear to be cloned or captured from the original start claims. Rejecting for security reasons", await StopError("default", deployJwt, id!));
        Assert.Equal("No such workload", await StopError("elsewhere", WorkloadJwt.Issue(issuer, "sleeper", null, later), id!));
        Assert.Equal("No such workload", await StopError("default", WorkloadJwt.Issue(issuer, "sleeper", null, later), "nosuchid"));
        Assert.NotEmpty(LiveProcesses.WithCommandLine($"workload-{id}"));
        Assert.Null(await StopError("default", WorkloadJwt.Issue(issuer, "sleeper", null, later), id!));
    }

    [Fact]
    public async Task Stop_TokensMustBeFresh_AndStopOnlyOnce()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var issuer = NexKeys.CreateAccount();
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var now = DateTimeOffset.UtcNow;

        async Task<string> Deploy(DateTimeOffset at)
        {
            var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location, jwt: WorkloadJwt.Issue(issuer, "sleeper", null, at)));
            Assert.Null(error);
            return id!;
        }

        async Task<string?> StopError(string jwt, string workloadId)
        {
            using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.STOP.default.{node.NodeId}", JsonSerializer.Serialize(new StopRequest { WorkloadId = workloadId, WorkloadJwt = jwt, TargetNode = node.NodeId }, NexJson.Context.StopRequest), TimeSpan.FromSeconds(10));
            return reply!.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
        }

        var first = await Deploy(now);
        Assert.StartsWith("Invalid stop request: stop claims were issued ", await StopError(WorkloadJwt.Issue(issuer, "sleeper", null, DateTimeOffset.FromUnixTimeSeconds(1)), first), StringComparison.Ordinal);
        Assert.StartsWith("Invalid stop request: stop claims are dated ", await StopError(WorkloadJwt.Issue(issuer, "sleeper", null, now.AddHours(1)), first), StringComparison.Ordinal);
        var captured = WorkloadJwt.Issue(issuer, "sleeper", null, now.AddSeconds(1));
        Assert.Null(await StopError(captured, first));

        // A later deployment of the same name by the same issuer: the captured token is spent.
        var second = await Deploy(now.AddSeconds(2));
        Assert.Equal("Invalid stop request: stop claims were already used to stop a workload. Rejecting for security reasons", await StopError(captured, second));
        Assert.NotEmpty(LiveProcesses.WithCommandLine($"workload-{second}"));
        Assert.Null(await StopError(WorkloadJwt.Issue(issuer, "sleeper", null, now.AddSeconds(3)), second));
    }

    [Fact]
    public async Task TwoStopsOfOneName_FromTheClient_BothPass()
    {
        // nex devrun --stop stops every running copy of a name: each stop token must differ (jti).
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { MachinePoolSize = 2 });
        var issuer = NexKeys.CreateAccount();
        var location = await Artifacts.UploadAsync(node.Connection, Bucket(), "sleeper", Artifacts.Script("/bin/sleep 300"));
        var jwt = WorkloadJwt.Issue(issuer, "sleeper", null, DateTimeOffset.UtcNow.AddSeconds(-5));
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: location, jwt: jwt));
            Assert.Null(error);
            ids.Add(id!);
        }

        var client = new NexClient(node.Connection, new NexClientOptions { Timeout = TimeSpan.FromSeconds(15) });
        foreach (var id in ids)
        {
            var request = await WorkloadRequests.BuildStopAsync(node.NodeId, id, "sleeper", issuer, cancellationToken: Ct);
            Assert.True((await client.StopAsync(node.NodeId, request, Ct)).Stopped);
        }
    }

    // The agent itself (not the unshare that holds its PID namespace, when there is one).
    private static IEnumerable<int> AgentPids(string id) =>
        LiveProcesses.WithCommandLine("nex-agent").Where(pid =>
        {
            // Any agent on the machine (another test's) may exit between the listing and these reads.
            try
            {
                return File.ReadAllText($"/proc/{pid}/comm").Trim() != "unshare"
                    && File.ReadAllText($"/proc/{pid}/environ").Contains($"NEX_WORKLOADID={id}", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        });

    private static async Task<string> RequestUntilAnsweredAsync(NatsConnection connection, string subject, string payload)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                var reply = await connection.RequestAsync<byte[], byte[]>(subject, Encoding.UTF8.GetBytes(payload), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(2) }, cancellationToken: Ct);
                return Encoding.UTF8.GetString(reply.Data!);
            }
            catch (NatsNoRespondersException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, Ct);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }

            await Task.Delay(100);
        }
    }
}
