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
    public void BadConfig_IsOneClearLine(string json, string expected)
    {
        var ex = Assert.Throws<NodeConfigException>(() => NodeConfigLoader.Parse(json));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain("System.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Nex.", ex.Message, StringComparison.Ordinal);
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
}
