using NATS.NKeys;
using Xunit;

namespace Nex.Agent.Tests;

public sealed class AgentSettingsTests
{
    private static readonly string Seed = KeyPair.CreatePair(PrefixByte.User).GetSeed();

    private static (AgentSettings? Settings, string Error) Load(Dictionary<string, string> variables, Dictionary<string, string>? files = null)
    {
        var ok = AgentSettingsLoader.TryLoad(
            name => variables.GetValueOrDefault(name),
            path => files is not null && files.TryGetValue(path, out var text) ? text : throw new FileNotFoundException($"Could not find file '{path}'."),
            out var settings,
            out var error);
        Assert.Equal(ok, settings is not null);
        return (settings, error);
    }

    private static Dictionary<string, string> NoSandbox() => new()
    {
        ["NEX_SANDBOX"] = "FALSE",
        ["NEX_WORKLOADID"] = "cn4p3qmcjc8s73bv0a2g",
        ["NEX_NODE_NATS_HOST"] = "0.0.0.0",
        ["NEX_NODE_NATS_PORT"] = "41234",
        ["NEX_NODE_NATS_NKEY_SEED"] = Seed,
    };

    [Fact]
    public void ANatsSocket_IsWhatTheAgentConnectsThrough_AndMustBeAnAbsolutePath()
    {
        Assert.Null(Load(NoSandbox()).Settings!.NatsSocket);

        var withSocket = NoSandbox();
        withSocket["NEX_NODE_NATS_SOCKET"] = "/run/nex/nats.sock";
        Assert.Equal("/run/nex/nats.sock", Load(withSocket).Settings!.NatsSocket);

        withSocket["NEX_NODE_NATS_SOCKET"] = "run/nex/nats.sock";
        var (settings, error) = Load(withSocket);
        Assert.Null(settings);
        Assert.Equal("NEX_NODE_NATS_SOCKET 'run/nex/nats.sock' is not an absolute path", error);
    }

    [Fact]
    public void NoSandboxEnvironment_IsReadAndZeroHostMeansLoopback()
    {
        var (settings, _) = Load(NoSandbox());
        Assert.NotNull(settings);
        Assert.Equal("cn4p3qmcjc8s73bv0a2g", settings.WorkloadId);
        Assert.Equal("127.0.0.1", settings.NatsHost);
        Assert.Equal(41234, settings.NatsPort);
        Assert.Equal("nats://127.0.0.1:41234", settings.NatsUrl);
        Assert.Equal(Seed, settings.NKeySeed);
        Assert.Equal(KeyPair.FromSeed(Seed).GetPublicKey(), settings.NKeyPublic);
        Assert.False(settings.Sandboxed);
        Assert.Equal("Metadata obtained from no-sandbox environment", settings.Message);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.StopGrace);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.DisconnectGrace);
    }

    [Fact]
    public void SeedFromStdin_IsTheFirstLine_AndOnlyStdinIsAccepted()
    {
        var variables = NoSandbox();
        variables.Remove("NEX_NODE_NATS_NKEY_SEED");
        variables["NEX_NODE_NATS_NKEY_SEED_FROM"] = "stdin";
        bool TryLoad(string stdin, out AgentSettings? settings, out string error) =>
            AgentSettingsLoader.TryLoad(name => variables.GetValueOrDefault(name), _ => throw new FileNotFoundException(), out settings, out error, () => stdin);

        Assert.True(TryLoad(Seed + "\n", out var settings, out _));
        Assert.Equal(Seed, settings!.NKeySeed);
        Assert.False(TryLoad("", out _, out var error));
        Assert.Equal("NEX_NODE_NATS_NKEY_SEED_FROM=stdin but standard input held no seed", error);
        variables["NEX_NODE_NATS_NKEY_SEED_FROM"] = "file";
        Assert.False(TryLoad(Seed, out _, out error));
        Assert.Equal("NEX_NODE_NATS_NKEY_SEED_FROM 'file' is not supported (only stdin)", error);
    }

    [Fact]
    public void SandboxIsTheDefault()
    {
        var variables = NoSandbox();
        variables.Remove("NEX_SANDBOX");
        Assert.True(Load(variables).Settings!.Sandboxed);
        variables["NEX_SANDBOX"] = "true";
        Assert.True(Load(variables).Settings!.Sandboxed);
    }

    [Fact]
    public void Graces_AreMilliseconds()
    {
        var variables = NoSandbox();
        variables["NEX_AGENT_STOP_GRACE_MS"] = "250";
        variables["NEX_AGENT_DISCONNECT_GRACE_MS"] = "1500";
        var settings = Load(variables).Settings!;
        Assert.Equal(TimeSpan.FromMilliseconds(250), settings.StopGrace);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), settings.DisconnectGrace);

        variables["NEX_AGENT_STOP_GRACE_MS"] = "-1";
        Assert.Equal("NEX_AGENT_STOP_GRACE_MS '-1' is not a number of milliseconds", Load(variables).Error);
    }

    [Theory]
    [InlineData("NEX_WORKLOADID", null, "NEX_WORKLOADID is required (the workload id)")]
    [InlineData("NEX_WORKLOADID", "", "NEX_WORKLOADID is required (the workload id)")]
    [InlineData("NEX_WORKLOADID", "a.b", "NEX_WORKLOADID 'a.b' is not a valid workload id (letters, digits, '-' and '_' only)")]
    [InlineData("NEX_WORKLOADID", "a*", "NEX_WORKLOADID 'a*' is not a valid workload id (letters, digits, '-' and '_' only)")]
    [InlineData("NEX_NODE_NATS_HOST", null, "NEX_NODE_NATS_HOST is required (the node's internal NATS host)")]
    [InlineData("NEX_NODE_NATS_PORT", null, "NEX_NODE_NATS_PORT is required (the node's internal NATS port)")]
    [InlineData("NEX_NODE_NATS_PORT", "0", "NEX_NODE_NATS_PORT '0' is not a valid port (1-65535)")]
    [InlineData("NEX_NODE_NATS_PORT", "65536", "NEX_NODE_NATS_PORT '65536' is not a valid port (1-65535)")]
    [InlineData("NEX_NODE_NATS_PORT", "42x", "NEX_NODE_NATS_PORT '42x' is not a valid port (1-65535)")]
    [InlineData("NEX_NODE_NATS_NKEY_SEED", "SUnotaseed", "NEX_NODE_NATS_NKEY_SEED is not a valid NATS user seed (SU…)")]
    public void MissingOrInvalid_IsOneClearLine(string name, string? value, string expected)
    {
        var variables = NoSandbox();
        if (value is null)
        {
            variables.Remove(name);
        }
        else
        {
            variables[name] = value;
        }

        var (settings, error) = Load(variables);
        Assert.Null(settings);
        Assert.Equal(expected, error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void AccountSeed_IsNotAUserSeed()
    {
        var variables = NoSandbox();
        variables["NEX_NODE_NATS_NKEY_SEED"] = KeyPair.CreatePair(PrefixByte.Account).GetSeed();
        Assert.Equal("NEX_NODE_NATS_NKEY_SEED is not a valid NATS user seed (SU…)", Load(variables).Error);
    }

    [Fact]
    public void NoSeed_ConnectsWithoutCredentials()
    {
        var variables = NoSandbox();
        variables.Remove("NEX_NODE_NATS_NKEY_SEED");
        var settings = Load(variables).Settings!;
        Assert.Null(settings.NKeySeed);
        Assert.Null(settings.NKeyPublic);
    }

    [Fact]
    public void MetadataFile_ProvidesEverything_EnvironmentOverrides()
    {
        var files = new Dictionary<string, string>
        {
            ["/meta.json"] = $$"""{"vmid":"fromfile","node_nats_host":"10.0.2.100","node_nats_port":4222,"node_nats_nkey":"{{Seed}}","message":"Host-supplied metadata"}""",
        };
        var settings = Load(new Dictionary<string, string> { ["NEX_METADATA_FILE"] = "/meta.json" }, files).Settings!;
        Assert.Equal("fromfile", settings.WorkloadId);
        Assert.Equal("nats://10.0.2.100:4222", settings.NatsUrl);
        Assert.Equal(Seed, settings.NKeySeed);
        Assert.Equal("Host-supplied metadata", settings.Message);
        Assert.True(settings.Sandboxed);

        var overridden = Load(new Dictionary<string, string> { ["NEX_METADATA_FILE"] = "/meta.json", ["NEX_NODE_NATS_PORT"] = "5222", ["NEX_WORKLOADID"] = "fromenv" }, files).Settings!;
        Assert.Equal("fromenv", overridden.WorkloadId);
        Assert.Equal(5222, overridden.NatsPort);
        Assert.Equal("10.0.2.100", overridden.NatsHost);
    }

    [Fact]
    public void MetadataFile_WithoutMessage_SaysHostSupplied_AndPortMayBeAString()
    {
        var files = new Dictionary<string, string> { ["/m"] = """{"vmid":"v1","node_nats_host":"0.0.0.0","node_nats_port":"4222"}""" };
        var settings = Load(new Dictionary<string, string> { ["NEX_METADATA_FILE"] = "/m" }, files).Settings!;
        Assert.Equal("Host-supplied metadata", settings.Message);
        Assert.Equal("127.0.0.1", settings.NatsHost);
        Assert.Equal(4222, settings.NatsPort);
    }

    [Theory]
    [InlineData("{not json", "cannot read agent metadata file /m: ")]
    [InlineData("null", "cannot read agent metadata file /m: the file holds null")]
    [InlineData("""{"vmid":"v1","node_nats_host":"h"}""", "NEX_NODE_NATS_PORT is required (the node's internal NATS port)")]
    [InlineData("""{"vmid":"v1","node_nats_host":"h","node_nats_port":70000}""", "node_nats_port 70000 in the agent metadata is not a valid port (1-65535)")]
    public void MetadataFile_Problems(string content, string expectedStart)
    {
        var files = new Dictionary<string, string> { ["/m"] = content };
        var (settings, error) = Load(new Dictionary<string, string> { ["NEX_METADATA_FILE"] = "/m" }, files);
        Assert.Null(settings);
        Assert.StartsWith(expectedStart, error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void MissingMetadataFile_IsReported()
    {
        var (_, error) = Load(new Dictionary<string, string> { ["NEX_METADATA_FILE"] = "/nope.json" });
        Assert.Equal("cannot read agent metadata file /nope.json: Could not find file '/nope.json'.", error);
    }

    [Fact]
    public void Ipv6Host_IsBracketedInTheUrl()
    {
        var variables = NoSandbox();
        variables["NEX_NODE_NATS_HOST"] = "fd00::1";
        Assert.Equal("nats://[fd00::1]:41234", Load(variables).Settings!.NatsUrl);
    }
}
