using System.Text.Json;
using Nex.Protocol;
using Nex.Security;
using Xunit;

namespace Nex.Client.Tests;

public sealed class WorkloadRequestsTests
{
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static readonly WorkloadLocation Location = WorkloadLocation.ForObject("NEXCLIFILES", "echoservice");

    private static DeploySpec Spec(string name, string type) => new() { Location = Location, Name = name, Type = type };

    [Fact]
    public void BuildDeploy_SignsAJwtTheNodeAccepts_WithThePlaceholderHashByDefault()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var time = new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_719_900_000));
        var request = WorkloadRequests.BuildDeploy(Spec("echoservice", WorkloadTypes.Native), "NNODE", node.GetPublicKey(), issuer, sender, time);

        var claims = WorkloadJwt.Validate(request.WorkloadJwt, time.GetUtcNow());
        Assert.Equal("echoservice", claims.Sub);
        Assert.Equal(issuer.GetPublicKey(), claims.Iss);
        Assert.Equal(WorkloadJwt.PlaceholderHash, claims.Hash);
        Assert.Equal(1_719_900_000, claims.Iat);
        Assert.Equal(sender.GetPublicKey(), request.SenderPublicKey);
        Assert.Equal("NNODE", request.TargetNode);
        Assert.Empty(EnvironmentCipher.Decrypt(request.Environment, node, request.SenderPublicKey));
    }

    [Fact]
    public void BuildDeploy_CarriesARealHash_AndTheEnvironmentOnlyTheNodeCanOpen()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        using var other = NexKeys.CreateCurve();
        var hash = new string('a', 64);
        var env = new Dictionary<string, string> { ["NATS_URL"] = "nats://x:4222", ["EMPTY"] = "", ["EQ"] = "a=b" };
        var request = WorkloadRequests.BuildDeploy(
            Spec("echo", WorkloadTypes.V8) with { Environment = env, Description = "desc", Argv = ["-v", "x"], Essential = true, Triggers = ["echo.>"], JsDomain = "hub", Hash = hash },
            "NNODE",
            node.GetPublicKey(),
            issuer,
            sender);

        Assert.Equal(hash, WorkloadJwt.Validate(request.WorkloadJwt, DateTimeOffset.UtcNow).Hash);
        Assert.Equal(env, EnvironmentCipher.Decrypt(request.Environment, node, request.SenderPublicKey));
        Assert.Throws<NexSecurityException>(() => EnvironmentCipher.Decrypt(request.Environment, other, request.SenderPublicKey));
        Assert.Equal(["-v", "x"], request.Argv!);
        Assert.Equal(["echo.>"], request.TriggerSubjects!);
        Assert.True(request.Essential);
        Assert.Equal("hub", request.JsDomain);
    }

    [Fact]
    public void BuildDeploy_WireShape_MatchesThe02Client()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var request = WorkloadRequests.BuildDeploy(
            Spec("echoservice", WorkloadTypes.Native) with { Environment = new Dictionary<string, string>(), Argv = [], Triggers = [] },
            "NNODE",
            node.GetPublicKey(),
            issuer,
            sender);

        using var doc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.DeployRequest));
        var root = doc.RootElement;
        Assert.Equal("", root.GetProperty("description").GetString());
        Assert.False(root.GetProperty("essential").GetBoolean());
        Assert.Equal("", root.GetProperty("jsdomain").GetString());
        Assert.Equal("native", root.GetProperty("type").GetString());
        Assert.False(root.TryGetProperty("argv", out _));
        Assert.False(root.TryGetProperty("trigger_subjects", out _));
        Assert.False(root.TryGetProperty("host_services", out _));
        var location = root.GetProperty("location");
        Assert.Equal(JsonValueKind.Object, location.ValueKind);
        Assert.Equal("nats", location.GetProperty("Scheme").GetString());
        Assert.Equal("NEXCLIFILES", location.GetProperty("Host").GetString());
        Assert.Equal("/echoservice", location.GetProperty("Path").GetString());
        foreach (var field in new[] { "workload_jwt", "environment", "sender_public_key", "target_node" })
        {
            Assert.False(string.IsNullOrEmpty(root.GetProperty(field).GetString()), field);
        }
    }

    [Fact]
    public void BuildDeploy_FunctionTimeoutAndQueueGroup_AreSentWhenGiven()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var request = WorkloadRequests.BuildDeploy(
            Spec("echojs", WorkloadTypes.V8) with { Triggers = ["hello"], FunctionTimeoutMs = 2000, TriggerQueueGroup = "workers" },
            "NNODE",
            node.GetPublicKey(),
            issuer,
            sender);

        Assert.Equal(2000, request.FunctionTimeoutMs);
        Assert.Equal("workers", request.TriggerQueueGroup);
        using var doc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.DeployRequest));
        Assert.Equal(2000, doc.RootElement.GetProperty("function_timeout_ms").GetInt32());
        Assert.Equal("workers", doc.RootElement.GetProperty("trigger_queue_group").GetString());
    }

    [Fact]
    public void BuildDeploy_ReuseContext_SendsFunctionContextReuse_OnlyForV8()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var request = WorkloadRequests.BuildDeploy(Spec("echojs", WorkloadTypes.V8) with { Triggers = ["hello"], ReuseContext = true }, "NNODE", node.GetPublicKey(), issuer, sender);
        Assert.Equal("reuse", request.FunctionContext);
        using var doc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.DeployRequest));
        Assert.Equal("reuse", doc.RootElement.GetProperty("function_context").GetString());

        var ex = Assert.Throws<ArgumentException>(() => WorkloadRequests.BuildDeploy(Spec("echowasm", WorkloadTypes.Wasm) with { Triggers = ["hello"], ReuseContext = true }, "NNODE", node.GetPublicKey(), issuer, sender));
        Assert.StartsWith("Invalid deploy request: function_context 'reuse' applies to v8 functions only, not 'wasm'", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void BuildDeploy_WithoutFunctionOptions_OmitsTheExtensionKeys(string? queueGroup)
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var request = WorkloadRequests.BuildDeploy(Spec("echojs", WorkloadTypes.V8) with { Triggers = ["hello"], TriggerQueueGroup = queueGroup }, "NNODE", node.GetPublicKey(), issuer, sender);

        Assert.Null(request.FunctionTimeoutMs);
        Assert.Null(request.TriggerQueueGroup);
        using var doc = JsonDocument.Parse(JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.DeployRequest));
        Assert.False(doc.RootElement.TryGetProperty("function_timeout_ms", out _));
        Assert.False(doc.RootElement.TryGetProperty("trigger_queue_group", out _));
        Assert.False(doc.RootElement.TryGetProperty("function_context", out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void BuildDeploy_NonPositiveFunctionTimeout_Throws(int timeoutMs)
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        Assert.Throws<ArgumentOutOfRangeException>(() => WorkloadRequests.BuildDeploy(
            Spec("echojs", WorkloadTypes.V8) with { Triggers = ["hello"], FunctionTimeoutMs = timeoutMs },
            "NNODE",
            node.GetPublicKey(),
            issuer,
            sender));
    }

    [Fact]
    public void BuildStop_IssuesAFreshTokenThatPassesTheStopRule_EvenInTheDeploySecond()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var time = new FixedTime(DateTimeOffset.FromUnixTimeMilliseconds(1_719_900_000_250));
        var deploy = WorkloadRequests.BuildDeploy(Spec("echoservice", WorkloadTypes.Native), "NNODE", node.GetPublicKey(), issuer, sender, time);
        var stop = WorkloadRequests.BuildStop("NNODE", "cq2v4h3m0lq6c5k2m3ig", "echoservice", issuer, time);

        Assert.Equal("cq2v4h3m0lq6c5k2m3ig", stop.WorkloadId);
        Assert.Equal("NNODE", stop.TargetNode);
        var original = WorkloadJwt.Decode(deploy.WorkloadJwt);
        var claims = WorkloadJwt.Decode(stop.WorkloadJwt);
        Assert.Equal("echoservice", claims.Sub);
        Assert.Null(claims.Hash);
        Assert.Equal(original.Iat + 1, claims.Iat);
        Assert.Null(StopRule.Check(original, claims));
    }

    [Fact]
    public async Task BuildStop_RightAfterADeploy_OnTheSystemClock_WaitsForTheNextSecond()
    {
        using var issuer = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        for (var i = 0; i < 2; i++)
        {
            var deploy = WorkloadRequests.BuildDeploy(Spec("echoservice", WorkloadTypes.Native), "NNODE", node.GetPublicKey(), issuer, sender);
            var stop = i == 0
                ? WorkloadRequests.BuildStop("NNODE", "id", "echoservice", issuer)
                : await WorkloadRequests.BuildStopAsync("NNODE", "id", "echoservice", issuer, cancellationToken: TestContext.Current.CancellationToken);
            var claims = WorkloadJwt.Decode(stop.WorkloadJwt);
            Assert.Null(StopRule.Check(WorkloadJwt.Decode(deploy.WorkloadJwt), claims));
            Assert.True(claims.Iat <= DateTimeOffset.UtcNow.ToUnixTimeSeconds(), "the stop token is not dated in the future");
        }
    }

    [Fact]
    public void BuildStop_TwiceInOneSecond_GivesTwoTokens_ANodeAcceptsBoth()
    {
        // A node spends each jti once, and the jti hashes the claims: the second stop of a name must carry
        // a later second (nex devrun --stop stops every running copy of a name in a row).
        using var issuer = NexKeys.CreateAccount();
        var time = new FixedTime(DateTimeOffset.FromUnixTimeMilliseconds(1_719_900_000_250));
        var first = WorkloadJwt.Decode(WorkloadRequests.BuildStop("NNODE", "id1", "echoservice", issuer, time).WorkloadJwt);
        var second = WorkloadJwt.Decode(WorkloadRequests.BuildStop("NNODE", "id2", "echoservice", issuer, time).WorkloadJwt);
        Assert.NotEqual(first.Jti, second.Jti);
        Assert.Equal(first.Iat + 1, second.Iat);

        var ledger = new StopTokenLedger(time);
        Assert.True(ledger.TryConsume(first));
        Assert.True(ledger.TryConsume(second));
        var original = new WorkloadClaims("J0", first.Iat - 10, issuer.GetPublicKey(), "echoservice");
        Assert.Null(StopRule.Check(original, second, time.GetUtcNow())); // one second ahead: within the skew allowed
    }

    [Fact]
    public void BuildStop_WithAnotherIssuer_FailsTheStopRule()
    {
        using var issuer = NexKeys.CreateAccount();
        using var intruder = NexKeys.CreateAccount();
        using var sender = NexKeys.CreateCurve();
        using var node = NexKeys.CreateCurve();
        var time = new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var deploy = WorkloadRequests.BuildDeploy(Spec("w", WorkloadTypes.Native), "N", node.GetPublicKey(), issuer, sender, time);
        var stop = WorkloadRequests.BuildStop("N", "id", "w", intruder, new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_005)));
        Assert.Equal(StopRule.IssuerMismatch, StopRule.Check(WorkloadJwt.Decode(deploy.WorkloadJwt), WorkloadJwt.Decode(stop.WorkloadJwt)));
    }

    [Theory]
    [InlineData("echofunction.js", "echofunctionjs")]
    [InlineData("/tmp/dir.d/my.service.v2", "myservicev2")]
    [InlineData("echoservice", "echoservice")]
    [InlineData("...", "")]
    public void KeyForFile_IsTheBaseNameWithoutDots(string path, string key) => Assert.Equal(key, ArtifactStore.KeyForFile(path));

    [Theory]
    [InlineData("echofunction.js", "v8")]
    [InlineData("ECHO.JS", "v8")]
    [InlineData("fn.wasm", "wasm")]
    [InlineData("echoservice", "native")]
    [InlineData("echofunctionjs", "native")]
    [InlineData("thing.exe", "native")]
    public void WorkloadTypeForFile_GuessesFromTheExtension(string path, string type) => Assert.Equal(type, NexClient.WorkloadTypeForFile(path));
}
