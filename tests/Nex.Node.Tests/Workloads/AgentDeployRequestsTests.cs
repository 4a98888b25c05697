using Nex.Node.Config;
using Nex.Node.Machines.Container;
using Nex.Node.Workloads;
using Nex.Protocol;
using Nex.Security;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>What the node asks an agent to run: Docker's command rule, the environment, the NATS_URL rule.</summary>
public sealed class AgentDeployRequestsTests
{
    private const string NodeNats = "nats://10.0.0.1:4222";
    private static readonly NodeConfig Config = new();
    private static readonly Artifact Small = new([1, 2, 3], "abc");

    [Theory]
    [InlineData(new[] { "/entry", "-x" }, new[] { "cmd" }, new string[0], "/entry", new[] { "-x", "cmd" })]         // entrypoint + Cmd
    [InlineData(new[] { "/entry", "-x" }, new[] { "cmd" }, new[] { "own" }, "/entry", new[] { "-x", "own" })]      // argv replaces Cmd
    [InlineData(new string[0], new[] { "/cmd", "a" }, new string[0], "/cmd", new[] { "a" })]                     // Cmd alone
    [InlineData(new string[0], new[] { "/cmd", "a" }, new[] { "/own", "b" }, "/own", new[] { "b" })]            // argv is the whole command
    public void AnImage_RunsDockersCommand(string[] entrypoint, string[] cmd, string[] argv, string command, string[] args)
    {
        var image = new OciImageConfig(entrypoint, cmd, [], "");
        var request = Build(new DeployRequest { Type = WorkloadTypes.Oci, Argv = argv.Length == 0 ? null : argv }, image: image);

        Assert.Equal(command, request.Command);
        Assert.Equal(args, request.Argv);
        Assert.Null(request.WorkingDirectory);
        Assert.Null(request.InlineArtifact); // an image is never inlined
    }

    [Fact]
    public void WithoutAnImage_TheArgvIsPassedAsItIs_AndASmallArtifactIsInlined()
    {
        var request = Build(new DeployRequest { Type = WorkloadTypes.Native, Argv = ["--port", "1"] });

        Assert.Null(request.Command);
        Assert.Equal(["--port", "1"], request.Argv);
        Assert.Equal(Small.Bytes, request.InlineArtifact);
        Assert.Equal("abc", request.Hash);
        Assert.Equal(3, request.TotalBytes);
    }

    [Fact]
    public void TheDeploysEnvironment_OverridesTheImages()
    {
        var image = new OciImageConfig(["/entry"], [], ["PATH=/bin", "MODE=image", "NOEQUALS", "=novalue", "EMPTY="], "/srv");
        var request = Build(new DeployRequest { Type = WorkloadTypes.Oci }, image: image, environment: new Dictionary<string, string> { ["MODE"] = "deploy" });

        Assert.Equal("/bin", request.Environment["PATH"]);
        Assert.Equal("deploy", request.Environment["MODE"]);
        Assert.Equal("", request.Environment["EMPTY"]);
        Assert.False(request.Environment.ContainsKey("NOEQUALS"));
        Assert.Equal("/srv", request.WorkingDirectory);
    }

    [Theory]
    [InlineData(WorkloadTypes.Native, NodeNats, null, NodeNats)]
    [InlineData(WorkloadTypes.Oci, NodeNats, null, NodeNats)]
    [InlineData(WorkloadTypes.Native, null, null, null)]                                   // no relay configured: no URL
    [InlineData(WorkloadTypes.Native, NodeNats, "nats://mine:4222", "nats://mine:4222")]   // the deployer's own wins
    [InlineData(WorkloadTypes.V8, NodeNats, null, null)]                                  // functions use host services
    public void Services_GetTheNodesNatsUrl_UnlessTheyBroughtOne(string type, string? nodeUrl, string? own, string? expected)
    {
        var environment = own is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["nats_url"] = own };
        var request = Build(new DeployRequest { Type = type }, environment: environment, natsUrl: nodeUrl);

        var url = request.Environment.FirstOrDefault(e => string.Equals(e.Key, "NATS_URL", StringComparison.OrdinalIgnoreCase)).Value;
        Assert.Equal(expected, url);
        Assert.True(request.Environment.Count(e => string.Equals(e.Key, "NATS_URL", StringComparison.OrdinalIgnoreCase)) <= 1); // never a second beside the deployer's
    }

    [Fact]
    public void TheFunctionTimeout_IsTheDeploysOwn_ElseTheNodes()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(250), AgentDeployRequests.FunctionTimeout(new DeployRequest { FunctionTimeoutMs = 250 }, Config));
        Assert.Equal(TimeSpan.FromMilliseconds(Config.FunctionTimeoutMs), AgentDeployRequests.FunctionTimeout(new DeployRequest { FunctionTimeoutMs = 0 }, Config));
        Assert.Equal(TimeSpan.FromMilliseconds(Config.FunctionTimeoutMs), AgentDeployRequests.FunctionTimeout(new DeployRequest(), Config));
    }

    [Fact]
    public void TheRequest_CarriesTheNodesLimits_AndTheDeploysIdentity()
    {
        var request = Build(new DeployRequest { Type = WorkloadTypes.V8, Description = null, Essential = true, RetryCount = 2, TriggerSubjects = ["a.b"] });

        Assert.Equal("", request.Description);
        Assert.True(request.Essential);
        Assert.Equal(2u, request.RetryCount);
        Assert.Equal(["a.b"], request.TriggerSubjects);
        Assert.Equal("greeter", request.WorkloadName);
        Assert.Equal("default", request.Namespace);
        Assert.Equal(5000, request.FunctionTimeoutMs);
        Assert.Equal(Config.V8MaxSourceBytes, request.MaxSourceBytes);
        Assert.Equal(Config.FunctionMemoryMib * 1024L * 1024L, request.MaxMemoryBytes);
    }

    [Fact]
    public void TheFunctionContext_IsTheDeploysOwn_AndSurvivesTheDesiredStateRecord()
    {
        Assert.Equal("", Build(new DeployRequest { Type = WorkloadTypes.V8, TriggerSubjects = ["a"] }).FunctionContext);
        Assert.Equal("fresh", Build(new DeployRequest { Type = WorkloadTypes.V8, TriggerSubjects = ["a"], FunctionContext = "fresh" }).FunctionContext);

        // Recovery and rescheduling replay the request kept in the record: the mode goes through it as received.
        var record = new DesiredWorkload { Name = "greeter", Request = new DeployRequest { Type = WorkloadTypes.V8, TriggerSubjects = ["a"], FunctionContext = "reuse" } };
        var json = System.Text.Json.JsonSerializer.Serialize(record, NexJson.Context.DesiredWorkload);
        Assert.Contains("\"function_context\":\"reuse\"", json, StringComparison.Ordinal);
        var replayed = System.Text.Json.JsonSerializer.Deserialize(json, NexJson.Context.DesiredWorkload)!;
        Assert.Equal("reuse", Build(replayed.Request).FunctionContext);
    }

    private static AgentDeployRequest Build(DeployRequest request, OciImageConfig? image = null, Dictionary<string, string>? environment = null, string? natsUrl = NodeNats)
    {
        var deploy = new ValidatedDeploy("default", request, new WorkloadClaims { Sub = "greeter" }, environment ?? []);
        return AgentDeployRequests.Build(deploy, Small, TimeSpan.FromSeconds(5), image, natsUrl, Config);
    }
}
