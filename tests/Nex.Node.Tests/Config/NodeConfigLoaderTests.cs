using Nex.Node.Config;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Config;

public sealed class NodeConfigLoaderTests
{
    [Fact]
    public void Defaults_MatchSpec()
    {
        var config = NodeConfigLoader.Parse("{}");
        Assert.Equal(5000, config.AgentHandshakeTimeoutMs);
        Assert.Equal(750, config.AgentPingTimeoutMs);
        Assert.Equal(1, config.MachinePoolSize);
        Assert.Equal(["native", "v8", "wasm"], config.WorkloadTypes); // 0.2: native only
        Assert.Equal(1, config.MachineTemplate.VcpuCount);
        Assert.Equal(256, config.MachineTemplate.MemSizeMib);
        Assert.Equal("127.0.0.1:14532", config.OtlpExporterUrl);
        Assert.Matches("^[a-z]+-[a-z]+$", config.Tags["node_name"]);
        Assert.True(config.HostServices!.Services["http"].Enabled);
        Assert.Equal(4, config.HostServices.Services.Count);
    }

    [Fact]
    public void Maps_MergeKeyByKey_AndKeysMatchCaseInsensitively()
    {
        var config = NodeConfigLoader.Parse("""
            { "Tags": { "simple": "true" }, "host_services": { "services": { "http": { "enabled": false } } }, "MACHINE_POOL_SIZE": 3 }
            """);
        Assert.Equal("true", config.Tags["simple"]);
        Assert.True(config.Tags.ContainsKey("node_name"));
        Assert.False(config.HostServices!.Services["http"].Enabled);
        Assert.True(config.HostServices.Services["kv"].Enabled);
        Assert.Equal(3, config.MachinePoolSize);
    }

    [Fact]
    public void UserNodeName_WinsOverTheRandomOne()
    {
        Assert.Equal("edge-1", NodeConfigLoader.Parse("""{"tags":{"node_name":"edge-1"}}""").Tags["node_name"]);
    }

    [Fact]
    public void EmptyWorkloadTypes_MeanNative()
    {
        Assert.Equal(["native"], NodeConfigLoader.Parse("""{"workload_types":[]}""").EffectiveWorkloadTypes);
    }

    [Fact]
    public void MissingExplicitFile_Uses02Wording()
    {
        var ex = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Load("/nonexistent/config.json"));
        Assert.Equal("failed to load configuration file: open /nonexistent/config.json: no such file or directory", ex.Message);
    }

    [Fact]
    public void MissingDefaultFile_MeansDefaults()
    {
        using var dir = new TempDirectory();
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = dir.Path;
        try
        {
            Assert.Equal(1, NodeConfigLoader.Load(null).MachinePoolSize);
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }

    [Theory]
    [InlineData("{ not json", "failed to parse configuration file")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("{\"machine_pool_size\":\"three\"}", "invalid configuration file config line 1: machine_pool_size must be an integer")]
    [InlineData("{\n  \"tags\": {\"a\": \"b\"},\n  \"workload_types\": \"native\"\n}", "invalid configuration file config line 3: workload_types must be an array of strings")]
    [InlineData("{\n  \"tags\": [1]\n}", "invalid configuration file config line 2: tags must be an object of string values")]
    [InlineData("{\"machine_pool_size\":0}", "machine_pool_size must be at least 1")]
    [InlineData("{\"workload_types\":[\"native\",\"python\"]}", "unknown workload type 'python'")]
    [InlineData("{\"valid_issuers\":[\"nope\"]}", "valid_issuers entry 'nope' is not a public nkey")]
    [InlineData("{\"sandbox\":\"docker\"}", "sandbox must be one of none, container, microvm")]
    [InlineData("{\"node_limits\":{\"max_workloads\":-1}}", "node_limits must not be negative")]
    [InlineData("{\"allow_wildcard_triggers\":\"yes\"}", "invalid configuration file config line 1: allow_wildcard_triggers must be true or false")]
    [InlineData("{\"autostart\":{\"workloads\":[{\"name\":\"a.b\",\"type\":\"native\",\"location\":\"nats://B/k\"}]}}", "autostart workload name 'a.b' does not match ^[a-zA-Z0-9_-]{1,64}$")]
    [InlineData("{\"autostart\":{\"workloads\":[{\"name\":\"ok\",\"namespace\":\"*\",\"type\":\"native\",\"location\":\"nats://B/k\"}]}}", "autostart workload 'ok': namespace '*' does not match requirements")]
    public void BadConfig_IsOneClearLine(string json, string expected)
    {
        var ex = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Parse(json));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain("System.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Nex.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowWildcardTriggers_IsOffByDefault_AndReadFromTheFile()
    {
        Assert.False(NodeConfigLoader.Parse("{}").AllowWildcardTriggers);
        Assert.True(NodeConfigLoader.Parse("{\"allow_wildcard_triggers\": true}").AllowWildcardTriggers);
    }

    [Fact]
    public void UnknownKeys_AreReportedNotFatal()
    {
        var warnings = new List<string>();
        NodeConfigLoader.Parse("""{"machine_pool_sise": 2}""", warnings: warnings);
        Assert.Equal(["unknown configuration key 'machine_pool_sise' ignored"], warnings);
    }

    [Fact]
    public void Comments_AndTrailingCommas_AreTolerated()
    {
        Assert.Equal(2, NodeConfigLoader.Parse("{ // pool\n \"machine_pool_size\": 2, }").MachinePoolSize);
    }

    [Theory]
    [InlineData("{}", "none")]
    [InlineData("{\"no_sandbox\":true}", "none")]
    [InlineData("{\"no_sandbox\":false}", "microvm")]
    [InlineData("{\"sandbox\":\"container\"}", "container")]
    public void SandboxSelection(string json, string expected)
    {
        Assert.Equal(expected, NodeConfigLoader.Parse(json).EffectiveSandbox);
    }

    [Theory]
    [InlineData("""{"messaging":{"config":{"allow":"orders.>"}}}""", "invalid configuration: host_services.services.messaging.config: allow must be an array of strings")]
    [InlineData("""{"messaging":{"config":{"deny":["a..b"]}}}""", "invalid configuration: host_services.services.messaging.config: 'a..b' in deny is not a valid subject")]
    [InlineData("""{"messaging":{"config":{"allow":["$JS.>"]}}}""", "invalid configuration: host_services.services.messaging.config: '$JS.>' in allow names system subjects, which workloads never reach")]
    [InlineData("""{"http":{"config":{"allow":["127.0.0.1:99999"]}}}""", "invalid configuration: host_services.services.http.config: '127.0.0.1:99999' in allow is neither a CIDR (10.0.0.0/8), an address nor a host[:port]")]
    [InlineData("""{"http":{"config":{"allow":[7]}}}""", "invalid configuration: host_services.services.http.config: allow must be an array of non-empty strings")]
    public void HostServicePolicyLists_AreRefusedWithOneLine_WhenMalformed(string services, string expected)
    {
        var ex = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Parse("{\"host_services\":{\"services\":" + services + "}}"));
        Assert.Equal(expected, ex.Message);
    }

    [Fact]
    public void HostServicePolicyLists_AreReadFromTheServicesConfig()
    {
        var config = NodeConfigLoader.Parse("""
            {"host_services":{"services":{
              "messaging":{"config":{"allow":["orders.>"],"deny":["orders.secret.>"],"request_timeout_ms":500}},
              "http":{"config":{"allow":["10.0.0.0/8","localhost:8080"]}}}}}
            """);
        Assert.Equal(4, config.HostServices!.Services.Count); // merged with the defaults
        var messaging = Nex.Node.HostServices.MessagingPermissions.Parse(config.HostServices.Services["messaging"].Config, out var error);
        Assert.Null(error);
        Assert.Equal(["orders.>"], messaging.Allow);
        Assert.Equal(["orders.secret.>"], messaging.Deny);
        using var http = Nex.Node.HostServices.HostHttpClient.From(config.HostServices);
        Assert.Equal(["10.0.0.0/8", "localhost:8080"], http.Policy.Allow.Select(e => e.ToString()));
    }
}
