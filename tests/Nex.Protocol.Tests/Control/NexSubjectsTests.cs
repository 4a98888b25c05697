using Xunit;

namespace Nex.Protocol.Tests.Control;

public class NexSubjectsTests
{
    [Fact]
    public void Builds_control_subjects()
    {
        Assert.Equal("$NEX.PING", NexSubjects.Ping);
        Assert.Equal("$NEX.AUCTION", NexSubjects.Auction);
        Assert.Equal("$NEX.WPING.>", NexSubjects.WPingAll);
        Assert.Equal("system", NexSubjects.SystemNamespace);
        Assert.Equal("$NEX.PING.NABC", NexSubjects.PingNode("NABC"));
        Assert.Equal("$NEX.WPING.default", NexSubjects.WPing("default"));
        Assert.Equal("$NEX.WPING.default", NexSubjects.WPing("default", ""));
        Assert.Equal("$NEX.WPING.default.echo", NexSubjects.WPing("default", "echo"));
        Assert.Equal("$NEX.INFO.default.NABC", NexSubjects.Info("default", "NABC"));
        Assert.Equal("$NEX.INFO.*.NABC", NexSubjects.InfoPattern("NABC"));
        Assert.Equal("$NEX.DEPLOY.default.NABC", NexSubjects.Deploy("default", "NABC"));
        Assert.Equal("$NEX.DEPLOY.*.NABC", NexSubjects.DeployPattern("NABC"));
        Assert.Equal("$NEX.STOP.default.NABC", NexSubjects.Stop("default", "NABC"));
        Assert.Equal("$NEX.STOP.*.NABC", NexSubjects.StopPattern("NABC"));
        Assert.Equal("$NEX.LAMEDUCK.NABC", NexSubjects.LameDuck("NABC"));
        Assert.Equal("$NEX.events.system.heartbeat", NexSubjects.Event(NexSubjects.SystemNamespace, EventTypes.Heartbeat));
        Assert.Equal("$NEX.logs.default.NABC.vm1.echo", NexSubjects.Log("default", "NABC", "vm1", "echo"));
    }

    [Theory]
    [InlineData("$NEX.DEPLOY.default.NABC", true, "default")]
    [InlineData("$NEX.WPING.ns", true, "ns")]
    [InlineData("$NEX.WPING", false, "")]
    [InlineData("$NEX.WPING.", false, "")]
    [InlineData("$NEX.INFO..NABC", false, "")]
    [InlineData("", false, "")]
    public void TryGetNamespace_reads_token_two(string subject, bool ok, string expected)
    {
        Assert.Equal(ok, NexSubjects.TryGetNamespace(subject, out var ns));
        Assert.Equal(expected, ns);
    }

    [Fact]
    public void TryGetToken_returns_null_out_of_range()
    {
        Assert.Equal("$NEX", NexSubjects.TryGetToken("$NEX.logs.a.b", 0));
        Assert.Equal("b", NexSubjects.TryGetToken("$NEX.logs.a.b", 3));
        Assert.Null(NexSubjects.TryGetToken("$NEX.logs.a.b", 4));
        Assert.Null(NexSubjects.TryGetToken("$NEX.logs.a.b", -1));
        Assert.Equal(string.Empty, NexSubjects.TryGetToken("a..b", 1));
    }

    [Fact]
    public void Workload_type_helpers()
    {
        Assert.True(WorkloadTypes.IsFunction(WorkloadTypes.V8));
        Assert.True(WorkloadTypes.IsFunction(WorkloadTypes.Wasm));
        Assert.True(WorkloadTypes.IsFunction("WASM"));
        Assert.False(WorkloadTypes.IsFunction(WorkloadTypes.Native));
        Assert.False(WorkloadTypes.IsFunction(WorkloadTypes.Oci));
        Assert.False(WorkloadTypes.IsFunction(null));
    }
}
