using System.Text;
using System.Text.Json;
using NATS.NKeys;
using Nex.Node.Config;
using Nex.Node.Identity;
using Nex.Node.Workloads;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>
/// Every DEPLOY check of spec §1.8.2, without a node: the validator on a <see cref="NodeState"/>, each rule with its
/// exact words, in order. (<c>DeployValidationTests</c> keeps one over-the-wire test per concern.)
/// </summary>
public sealed class DeployValidatorTests
{
    private static readonly NodeIdentity Identity = NodeIdentity.Create(null, null);

    private static string Denied(string trigger) => $"The trigger subject {trigger} overlaps with subject(s) in this node's deny list";

    [Theory]
    [InlineData("$KV.>")]          // every other workload's KV writes
    [InlineData("$O.>")]
    [InlineData("$KV.hs_default_other_kv.key")]
    [InlineData("$SYS")]           // one token: did not collide with $SYS.>
    [InlineData("$G")]
    [InlineData("_INBOX.>")]       // other clients' replies
    [InlineData("_INBOX.abc")]
    [InlineData("_INBOX_custom.x")]
    [InlineData(">")]
    [InlineData("*.>")]
    [InlineData("$SYS.foo")]
    [InlineData("$NEX.x")]
    [InlineData("*.*")]            // two tokens or more after a wildcard: these overlap $SYS.> (as in 0.2)
    [InlineData("*.echo")]
    [InlineData("*.foo")]
    [InlineData("$JS.>")]
    public void SystemSubjects_AreRefused_EvenWhenWildcardsAreAllowed(string trigger)
    {
        Assert.Equal(Denied(trigger), DeployValidator.TriggerProblem(trigger, [], allowWildcards: false));
        Assert.Equal(Denied(trigger), DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));
    }

    [Fact]
    public void AFirstTokenWildcard_IsRefused_UnlessTheNodeAllowsIt()
    {
        const string trigger = "*"; // answers every single-token service subject
        Assert.Equal(
            $"The trigger subject {trigger} starts with a wildcard and would take other workloads' subjects; this node does not allow wildcard triggers (allow_wildcard_triggers)",
            DeployValidator.TriggerProblem(trigger, [], allowWildcards: false));
        Assert.Null(DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));
    }

    [Theory]
    [InlineData("echo")]
    [InlineData("svc.echo.*")]
    [InlineData("svc.>")]
    [InlineData("KV.x")]
    [InlineData("INBOX.x")]
    [InlineData("a$b.c")]
    public void OrdinarySubjects_Pass(string trigger) => Assert.Null(DeployValidator.TriggerProblem(trigger, [], allowWildcards: false));

    [Fact]
    public void TheNodesDenyList_StillApplies()
    {
        Assert.Equal(Denied("secret.x"), DeployValidator.TriggerProblem("secret.x", ["secret.>"], allowWildcards: false));
        Assert.Null(DeployValidator.TriggerProblem("secret.x", [], allowWildcards: false)); // autostart passes []
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a b")]
    [InlineData(">.a")]
    public void InvalidSubjects_AreRefused(string trigger) =>
        Assert.Equal($"Invalid trigger subject: {trigger}", DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));

    [Fact]
    public void OverlongSubjects_AreRefusedInOneShortLine()
    {
        var trigger = "a." + new string('b', 4100);
        Assert.Equal($"Invalid trigger subject: {trigger[..64]}…(4102 characters)", DeployValidator.TriggerProblem(trigger, [], allowWildcards: true));
    }

    [Fact]
    public void AValidRequest_PassesWithItsClaimsAndDecryptedEnvironment()
    {
        var issuer = NexKeys.CreateAccount();
        var deploy = Validator().Validate("default", Body(env: new Dictionary<string, string> { ["A"] = "1" }, issuer: issuer));
        Assert.Equal("default", deploy.Namespace);
        Assert.Equal("echoservice", deploy.Claims.Sub);
        Assert.Equal(issuer.GetPublicKey(), deploy.Claims.Iss);
        Assert.Equal("1", deploy.Environment["A"]);
    }

    [Theory]
    [InlineData("*")]
    [InlineData(">")]
    [InlineData("$SYS")]
    [InlineData("a*b")]
    [InlineData("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn")] // 65
    public void InvalidNamespaces_AreRefused(string ns)
    {
        var shown = ns.Length > 64 ? $"{ns[..64]}…({ns.Length} characters)" : ns;
        Assert.Equal($"Invalid subject for workload deployment: namespace '{shown}' does not match requirements (^[a-zA-Z0-9_-]{{1,64}}$)", Rejection(() => Validator().Validate(ns, Body())));
    }

    [Fact]
    public void LameDuck_RefusesBeforeEvenReadingTheBody_ButNotTheNodesOwnDeploys()
    {
        var node = Node();
        node.TryEnterLameDuck();
        Assert.Equal("Node is in lame duck mode. Workload deploy request denied", Rejection(() => new DeployValidator(node, () => 0).Validate("default", "not json"u8)));
        Assert.NotNull(new DeployValidator(node, () => 0).Validate("default", Request(), trusted: true)); // autostart, restarts
    }

    [Fact]
    public void TheWorkloadLimit_CountsRunningWorkloads()
    {
        var node = Node(c => c with { NodeLimits = new NodeLimits { MaxWorkloads = 2 } });
        Assert.NotNull(new DeployValidator(node, () => 1).Validate("default", Body()));
        Assert.Equal("Node is at maximum workload limit. Deploy request denied", Rejection(() => new DeployValidator(node, () => 2).Validate("default", Body())));
        Assert.NotNull(new DeployValidator(node, () => 2).Validate("default", Request(), trusted: true));
        Assert.NotNull(new DeployValidator(Node(), () => 1000).Validate("default", Body())); // 0: no limit
    }

    [Theory]
    [InlineData("", "Unable to deserialize deploy request: invalid JSON: The input does not contain any JSON tokens")]
    [InlineData("null", "Unable to deserialize deploy request: invalid JSON: request is null")]
    public void AnUnreadableBody_IsOneLine(string body, string expected) =>
        Assert.Equal(expected, Rejection(() => Validator().Validate("default", Encoding.UTF8.GetBytes(body))));

    [Fact]
    public void MissingFields_AreNamed_InOrder()
    {
        var request = Request();
        Assert.Equal("Unable to deserialize deploy request: type is required", Rejection(() => Validator().Validate("default", request with { Type = "" }, trusted: false)));
        Assert.Equal("Unable to deserialize deploy request: location is required", Rejection(() => Validator().Validate("default", request with { Location = WorkloadLocation.Empty }, trusted: false)));
        Assert.Equal("Unable to deserialize deploy request: workload_jwt is required", Rejection(() => Validator().Validate("default", request with { WorkloadJwt = "" }, trusted: false)));
        Assert.Equal("Unable to deserialize deploy request: sender_public_key is required", Rejection(() => Validator().Validate("default", request with { SenderPublicKey = "" }, trusted: false)));
    }

    [Fact]
    public void UnsupportedTypes_AreRefused_AndEchoedShortOnOneLine()
    {
        Assert.Equal("Unsupported workload type on this node: wasm", Rejection(() => Validator(c => c with { WorkloadTypes = ["native"] }).Validate("default", Body(type: "wasm"))));
        var type = "a\nb" + new string('w', 4100);
        Assert.Equal($"Unsupported workload type on this node: a\\u000ab{new string('w', 61)}…(4103 characters)", Rejection(() => Validator().Validate("default", Body(type: type))));
    }

    [Fact]
    public void AJetStreamDomainThatIsNoToken_IsRefused()
    {
        var domain = new string('d', 4100);
        Assert.Equal(
            $"Invalid deploy request: jsdomain '{new string('d', 64)}…(4100 characters)' is not a JetStream domain (1-64 characters, no '.', '*', '>' or whitespace)",
            Rejection(() => Validator().Validate("default", Request() with { JsDomain = domain }, trusted: false)));
        Assert.Equal(
            "Invalid deploy request: jsdomain 'a.b' is not a JetStream domain (1-64 characters, no '.', '*', '>' or whitespace)",
            Rejection(() => Validator().Validate("default", Request() with { JsDomain = "a.b" }, trusted: false)));
    }

    [Fact]
    public void Triggers_AreOnlyForFunctions()
    {
        Assert.Equal("Unsupported workload type for trigger subject registration: native", Rejection(() => Validator().Validate("default", Body(triggers: ["hello"]))));
        Assert.NotNull(Validator().Validate("default", Body(type: "v8", triggers: ["hello"])));
    }

    [Fact]
    public void TheNodesDenyList_AppliesOnTheWire_NotToTrustedDeploys()
    {
        var validator = Validator(c => c with { DenyTriggerSubjects = ["secret.>"] });
        Assert.Equal(Denied("secret.stuff"), Rejection(() => validator.Validate("default", Body(type: "v8", triggers: ["ok.subject", "secret.stuff"]))));
        Assert.NotNull(validator.Validate("default", Request(type: "v8", triggers: ["secret.stuff"]), trusted: true));
        Assert.Equal(Denied("$SYS.x"), Rejection(() => validator.Validate("default", Request(type: "v8", triggers: ["$SYS.x"]), trusted: true)));
    }

    [Fact]
    public void WildcardTriggers_FollowTheNodesSetting()
    {
        Assert.Equal(
            "The trigger subject * starts with a wildcard and would take other workloads' subjects; this node does not allow wildcard triggers (allow_wildcard_triggers)",
            Rejection(() => Validator().Validate("default", Body(type: "v8", triggers: ["*"]))));
        Assert.NotNull(Validator(c => c with { AllowWildcardTriggers = true }).Validate("default", Body(type: "v8", triggers: ["*"])));
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq")] // 65
    public void InvalidQueueGroups_AreRefused(string group)
    {
        var shown = SubjectToken.Shorten(group);
        Assert.Equal(
            $"Invalid trigger queue group: '{shown}' (1-64 characters, no whitespace)",
            Rejection(() => Validator().Validate("default", Request(type: "v8", triggers: ["echo"]) with { TriggerQueueGroup = group }, trusted: false)));
        Assert.NotNull(Validator().Validate("default", Request(type: "v8", triggers: ["echo"]) with { TriggerQueueGroup = "workers" }, trusted: false));
    }

    [Theory]
    [InlineData("v8", "shared", "Invalid deploy request: function_context 'shared' is not one of 'fresh', 'reuse'")]
    [InlineData("v8", "REUSE", "Invalid deploy request: function_context 'REUSE' is not one of 'fresh', 'reuse'")]
    [InlineData("wasm", "reuse", "Invalid deploy request: function_context 'reuse' applies to v8 functions only, not 'wasm'")]
    [InlineData("native", "fresh", "Invalid deploy request: function_context applies to function workloads (v8, wasm) only, not 'native'")]
    public void InvalidFunctionContexts_AreRefused(string type, string value, string expected)
    {
        var triggers = type == "native" ? null : new[] { "echo" };
        Assert.Equal(expected, Rejection(() => Validator().Validate("default", Request(type: type, triggers: triggers) with { FunctionContext = value }, trusted: false)));
    }

    [Theory]
    [InlineData("v8", "reuse")]
    [InlineData("v8", "fresh")]
    [InlineData("wasm", "fresh")]
    public void ValidFunctionContexts_AreAccepted(string type, string value) =>
        Assert.NotNull(Validator().Validate("default", Request(type: type, triggers: ["echo"]) with { FunctionContext = value }, trusted: false));

    [Fact]
    public void AnEnvironmentForAnotherKey_IsRefused()
    {
        var other = NexKeys.CreateCurve().GetPublicKey();
        Assert.StartsWith("Failed to decrypt environment for deploy request: ", Rejection(() => Validator().Validate("default", Body(recipientXkey: other))), StringComparison.Ordinal);
    }

    [Fact]
    public void AForgedJwt_IsRefused()
    {
        var jwt = WorkloadJwt.Issue(NexKeys.CreateAccount(), "echoservice", null, DateTimeOffset.UtcNow);
        var parts = jwt.Split('.');
        var forged = $"{parts[0]}.{parts[1]}.{(parts[2][0] == 'A' ? 'B' : 'A')}{parts[2][1..]}";
        Assert.StartsWith("Invalid deploy request: could not decode workload JWT: ", Rejection(() => Validator().Validate("default", Body(jwt: forged))), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("echo.service")]
    [InlineData("echo service")]
    public void BadWorkloadNames_AreRefused(string name) =>
        Assert.Equal($"Invalid deploy request: workload name claim ('{name}') does not match requirements (^[a-zA-Z0-9_-]+$)", Rejection(() => Validator().Validate("default", Body(name: name))));

    [Fact]
    public void A4100CharacterName_IsRefusedInOneShortLine()
    {
        var name = new string('a', 4100);
        Assert.Equal($"Invalid deploy request: workload name claim ('{name[..64]}…') is 4100 characters long; at most 64 are allowed", Rejection(() => Validator().Validate("default", Body(name: name))));
    }

    [Fact]
    public void TheIssuerAllowList_AppliesOnTheWire_NotToTrustedDeploys()
    {
        var allowed = NexKeys.CreateAccount();
        var other = NexKeys.CreateAccount();
        var validator = Validator(c => c with { ValidIssuers = [allowed.GetPublicKey()] });
        Assert.NotNull(validator.Validate("default", Body(issuer: allowed)));
        Assert.Equal($"invalid workload issuer: {other.GetPublicKey()}", Rejection(() => validator.Validate("default", Body(issuer: other))));
        Assert.NotNull(validator.Validate("default", Request(issuer: other), trusted: true));
    }

    [Fact]
    public void ChecksRunInSpecOrder()
    {
        var otherKey = NexKeys.CreateCurve().GetPublicKey();
        var node = Node(c => c with { WorkloadTypes = ["native"] });
        var validator = new DeployValidator(node, () => 0);

        // The type (step 5) before the environment (step 8), the environment before the JWT (step 9).
        Assert.Equal("Unsupported workload type on this node: oci", Rejection(() => validator.Validate("default", Body(type: "oci", recipientXkey: otherKey))));
        Assert.StartsWith("Failed to decrypt environment", Rejection(() => validator.Validate("default", Body(recipientXkey: otherKey, name: "a.b"))), StringComparison.Ordinal);

        // The namespace before lame duck, lame duck before the body.
        node.TryEnterLameDuck();
        Assert.StartsWith("Invalid subject for workload deployment: ", Rejection(() => validator.Validate("*", ""u8)), StringComparison.Ordinal);
        Assert.Equal("Node is in lame duck mode. Workload deploy request denied", Rejection(() => validator.Validate("default", ""u8)));
    }

    private static NodeConfig Config(Func<NodeConfig, NodeConfig>? configure = null)
    {
        var config = new NodeConfig { WorkloadTypes = ["native", "v8", "wasm"] };
        return configure is null ? config : configure(config);
    }

    private static NodeState Node(Func<NodeConfig, NodeConfig>? configure = null) => new(Config(configure), Identity, "test", "nexus", TimeProvider.System);

    private static DeployValidator Validator(Func<NodeConfig, NodeConfig>? configure = null) => new(Node(configure), () => 0);

    private static byte[] Body(
        string name = "echoservice",
        string type = "native",
        KeyPair? issuer = null,
        IReadOnlyDictionary<string, string>? env = null,
        IReadOnlyList<string>? triggers = null,
        string? recipientXkey = null,
        string? jwt = null) =>
        Encoding.UTF8.GetBytes(Wire.DeployJson(Identity.NodeId, Identity.PublicXKey, name: name, type: type, issuer: issuer, env: env, triggers: triggers, recipientXkey: recipientXkey, jwt: jwt));

    private static DeployRequest Request(string type = "native", IReadOnlyList<string>? triggers = null, KeyPair? issuer = null) =>
        JsonSerializer.Deserialize(Body(type: type, triggers: triggers, issuer: issuer), NexJson.Context.DeployRequest)!;

    private static string Rejection(Action validate) => Assert.Throws<ControlRejectedException>(validate).Message;
}
