using System.Text.Json;
using Nex.Node.Config;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.ControlApi;

/// <summary>DEPLOY's control-plane checks over the wire: one test per concern, that the node applies it (with its
/// config) and keeps its connection. Every rule, its words and their order: DeployValidatorTests, without a node.</summary>
public sealed class DeployValidationTests(NatsServerFixture nats)
{
    private static async Task<string?> DeployErrorAsync(TestNode node, string body, string ns = "default")
    {
        using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.DEPLOY.{ns}.{node.NodeId}", body, TimeSpan.FromSeconds(5));
        Assert.NotNull(reply);
        return reply.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
    }

    [Fact]
    public async Task UnsupportedType_IsRejected()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, type: "wasm", triggers: ["a"]));
        Assert.Equal("Unsupported workload type on this node: wasm", error);
    }

    [Fact]
    public async Task ALocationThatIsNoBucketName_IsOneClearLine_NotJetStreamsException()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: "nats://example.com/x"));
        Assert.Equal("Failed to cache workload bytes: 'example.com' is not an object store bucket name (letters, digits, '-' and '_'); use nats://BUCKET/key", error);
    }

    [Fact]
    public async Task AnArtifactKeyLongerThan1024_IsRefused_AndTheNodeKeepsItsConnection()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: $"nats://NEXCLIFILES/{new string('w', 4100)}"));
        Assert.Equal($"Failed to cache workload bytes: object '{new string('w', 64)}…(4100 characters)' is longer than 1024 characters", error);
        using var info = await Wire.RequestAsync(node.Connection, $"$NEX.INFO.default.{node.NodeId}", "", TimeSpan.FromSeconds(5));
        Assert.False(info!.RootElement.GetProperty("data").TryGetProperty("nats_disconnects", out _));
    }

    // Each would otherwise become part of a subject or fail inside NATS.Net with its own text.
    [Theory]
    [InlineData("nats://NEXCLIFILES", "Failed to cache workload bytes: the location names no object in bucket 'NEXCLIFILES'; use nats://BUCKET/key")]
    [InlineData("nats://NEXCLIFILES/%20", "Failed to cache workload bytes: the location names no object in bucket 'NEXCLIFILES'; use nats://BUCKET/key")]
    public async Task LocationsThatNameNoObject_AreOneClearLine(string location, string expected)
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        Assert.Equal(expected, await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: location)));
    }

    [Fact]
    public async Task ALongBucketOrDomain_IsRefused_AndTheNodeKeepsItsConnection()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var bucket = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, location: $"nats://{new string('b', 4100)}/x"));
        Assert.StartsWith($"Failed to cache workload bytes: '{new string('b', 64)}…(4100 characters)' is not an object store bucket name", bucket, StringComparison.Ordinal);
        var body = Wire.DeployJson(node.NodeId, node.Node.PublicXKey).Replace("\"jsdomain\":\"\"", $"\"jsdomain\":\"{new string('d', 4100)}\"", StringComparison.Ordinal);
        Assert.StartsWith("Invalid deploy request: jsdomain 'ddd", await DeployErrorAsync(node, body), StringComparison.Ordinal);
        using var info = await Wire.RequestAsync(node.Connection, $"$NEX.INFO.default.{node.NodeId}", "", TimeSpan.FromSeconds(5));
        Assert.False(info!.RootElement.GetProperty("data").TryGetProperty("nats_disconnects", out _));
    }

    [Fact]
    public async Task AnEmptyBody_IsNamedInOneSentence()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        Assert.Equal("Unable to deserialize deploy request: invalid JSON: The input does not contain any JSON tokens", await DeployErrorAsync(node, ""));
    }

    // One over the wire (the node's deny list reaches the check); every system subject: DeployValidatorTests.
    [Theory]
    [InlineData("secret.stuff")]
    public async Task DeniedTriggerSubjects_AreRejected(string trigger)
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8", "wasm"], DenyTriggerSubjects = ["secret.>"] });
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, type: "v8", triggers: ["ok.subject", trigger]));
        Assert.Equal($"The trigger subject {trigger} overlaps with subject(s) in this node's deny list", error);
    }

    [Fact]
    public async Task WildcardTrigger_IsRejected_UnlessTheNodeAllowsIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8", "wasm"] }))
        {
            var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, type: "v8", triggers: ["*"]));
            Assert.Equal("The trigger subject * starts with a wildcard and would take other workloads' subjects; this node does not allow wildcard triggers (allow_wildcard_triggers)", error);
        }

        // Allowed: the trigger passes, and the deploy goes on to the next step (here: no such artifact).
        await using var open = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8", "wasm"], AllowWildcardTriggers = true });
        var next = await DeployErrorAsync(open, Wire.DeployJson(open.NodeId, open.Node.PublicXKey, type: "v8", triggers: ["*"]));
        Assert.StartsWith("Failed to cache workload bytes: ", next, StringComparison.Ordinal);
        Assert.NotNull(await open.Client.PingNodeAsync(open.NodeId, ct));
    }

    // One over the wire; the length limit: DeployValidatorTests.
    [Theory]
    [InlineData("a b")]
    public async Task InvalidQueueGroup_IsRefused(string group)
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8", "wasm"] });
        var request = JsonSerializer.Deserialize(Wire.DeployJson(node.NodeId, node.Node.PublicXKey, type: "v8", triggers: ["echo"]), Nex.Protocol.NexJson.Context.DeployRequest)!;
        var body = JsonSerializer.Serialize(request with { TriggerQueueGroup = group }, Nex.Protocol.NexJson.Context.DeployRequest);
        var shown = group.Length > 64 ? $"{group[..64]}…({group.Length} characters)" : group;
        Assert.Equal($"Invalid trigger queue group: '{shown}' (1-64 characters, no whitespace)", await DeployErrorAsync(node, body));
    }

    // A wildcard and an overlong one over the wire (DEPLOY and STOP); the others: DeployValidatorTests.
    [Theory]
    [InlineData("*")]
    [InlineData("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn")] // 65
    public async Task InvalidNamespaces_AreRefused_AtDeployAndStop(string ns)
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var shown = ns.Length > 64 ? $"{ns[..64]}…({ns.Length} characters)" : ns;
        var requirement = $"namespace '{shown}' does not match requirements (^[a-zA-Z0-9_-]{{1,64}}$)";
        Assert.Equal($"Invalid subject for workload deployment: {requirement}", await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey), ns));

        var stop = JsonSerializer.Serialize(new Nex.Protocol.StopRequest { WorkloadId = "x", WorkloadJwt = "y", TargetNode = node.NodeId }, Nex.Protocol.NexJson.Context.StopRequest);
        using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.STOP.{ns}.{node.NodeId}", stop, TimeSpan.FromSeconds(5));
        Assert.Equal($"Invalid subject for workload stop: {requirement}", reply!.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A4100CharacterName_IsRefused_AndTheNodeKeepsItsConnection()
    {
        // 0.2 accepted it (it matches the pattern); its log subjects then exceeded nats-server's 4096-byte
        // control line and the server closed the node's connection.
        var ct = TestContext.Current.CancellationToken;
        await using var node = await TestNode.StartAsync(nats.Url);
        var name = new string('a', 4100);
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: name));
        Assert.Equal($"Invalid deploy request: workload name claim ('{name[..64]}…') is 4100 characters long; at most 64 are allowed", error);

        Assert.NotNull(await node.Client.PingNodeAsync(node.NodeId, ct));
        Assert.Equal(0, (await node.Client.InfoAsync(node.NodeId, ct)).NatsDisconnects);
    }

    [Fact]
    public async Task EnvironmentForAnotherKey_IsRejected()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var other = NexKeys.CreateCurve().GetPublicKey();
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, recipientXkey: other));
        Assert.StartsWith("Failed to decrypt environment for deploy request: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadJwtSignature_IsRejected()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var jwt = WorkloadJwt.Issue(NexKeys.CreateAccount(), "echoservice", null, DateTimeOffset.UtcNow);
        var parts = jwt.Split('.');
        var forged = $"{parts[0]}.{parts[1]}.{(parts[2][0] == 'A' ? 'B' : 'A')}{parts[2][1..]}";
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, jwt: forged));
        Assert.StartsWith("Invalid deploy request: could not decode workload JWT: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IssuerNotAllowed_IsRejected()
    {
        var allowed = NexKeys.CreateAccount().GetPublicKey();
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { ValidIssuers = [allowed] });
        var issuer = NexKeys.CreateAccount();
        var error = await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, issuer: issuer));
        Assert.Equal($"invalid workload issuer: {issuer.GetPublicKey()}", error);
    }

    [Fact]
    public async Task LameDuck_RejectsDeploys_AnnouncesItself_AndIsIdempotent()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var ct = TestContext.Current.CancellationToken;
        await using var events = await node.Connection.SubscribeCoreAsync<byte[]>("$NEX.events.system.node_entered_lameduck", cancellationToken: ct);
        await node.Connection.PingAsync(ct);

        using var reply = await Wire.RequestAsync(node.Connection, $"$NEX.LAMEDUCK.{node.NodeId}");
        Assert.NotNull(reply);
        Assert.Equal("io.nats.nex.v1.lameduck_response", reply.RootElement.GetProperty("type").GetString());
        Assert.Equal(node.NodeId, reply.RootElement.GetProperty("data").GetProperty("node_id").GetString());
        Assert.True(reply.RootElement.GetProperty("data").GetProperty("success").GetBoolean());

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var evt = await events.Msgs.ReadAsync(timeout.Token);
        using var doc = JsonDocument.Parse(evt.Data!);
        Assert.Equal("node_entered_lameduck", doc.RootElement.GetProperty("type").GetString());
        Assert.Equal(node.NodeId, doc.RootElement.GetProperty("data").GetProperty("id").GetString());
        // Our fix of §11 #13: the event carries the time it happened, not the start time.
        Assert.InRange(doc.RootElement.GetProperty("time").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddSeconds(-10), DateTimeOffset.UtcNow.AddSeconds(1));

        var ping = await node.Client.PingNodeAsync(node.NodeId, ct);
        Assert.Equal("true", ping.Tags!["nex.lameduck"]);
        Assert.Equal("Node is in lame duck mode. Workload deploy request denied", await DeployErrorAsync(node, Wire.DeployJson(node.NodeId, node.Node.PublicXKey)));

        var again = await node.Client.LameDuckAsync(node.NodeId, ct);
        Assert.True(again.Success);
    }
}
