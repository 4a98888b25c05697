using Nex.Client;
using Nex.Protocol;
using Xunit;

namespace Nex.Client.Tests;

/// <summary>The model behind <c>nex top</c> with fixed readings: rates, sorting, filtering and what is missing.</summary>
public sealed class TopModelTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 2, 0, 0, TimeSpan.Zero);

    private static TopNode Node(string id, string name, bool lameDuck = false, MemoryStat? memory = null, string? problem = null)
    {
        var tags = new Dictionary<string, string> { [NexTags.NodeName] = name };
        if (lameDuck)
        {
            tags[NexTags.LameDuck] = "true";
        }

        var ping = new PingResponse { NodeId = id, Version = "0.3.0", Uptime = "1h2m3s", Tags = tags, RunningMachines = 2 };
        return new TopNode(ping, problem is null ? new InfoResponse { Memory = memory, Tags = tags } : null, problem);
    }

    private static TopWorkload Workload(string id, string name, string ns = "default", string node = "n1", CallStats? calls = null, double? cpuSeconds = null, long? memory = null, uint restarts = 0) =>
        new(node, node + "-name", ns, new MachineSummary
        {
            Id = id,
            Namespace = ns,
            Uptime = "5m0s",
            Workload = new WorkloadSummary { Name = name, Type = calls is null ? "native" : "v8" },
            Calls = calls,
            Resources = cpuSeconds is null && memory is null ? null : new MachineResources { CpuSeconds = cpuSeconds ?? 0, MemoryBytes = memory ?? 0 },
            RetryCount = restarts,
        });

    private static TopSnapshot Snapshot(DateTimeOffset time, params TopWorkload[] workloads) => new(time, [Node("n1", "alpha")], workloads, ["default"]);

    [Fact]
    public void Update_UsesTheNodesPerSecond_WhenItGivesOne()
    {
        var model = new TopModel();
        model.Update(Snapshot(T0, Workload("w1", "fn", calls: new CallStats { Total = 10, PerSecond = 2.5 })));
        var view = model.Update(Snapshot(T0.AddSeconds(1), Workload("w1", "fn", calls: new CallStats { Total = 100, PerSecond = 3.25 })));

        Assert.Equal(3.25, Assert.Single(view.Workloads).CallsPerSecond);
        Assert.Equal(3.25, view.Totals.CallsPerSecond);
    }

    [Fact]
    public void Update_FallsBackToTheTotalsDelta_WhenPerSecondIsLeftOut()
    {
        var model = new TopModel();
        var first = model.Update(Snapshot(T0, Workload("w1", "fn", calls: new CallStats { Total = 10 })));
        var second = model.Update(Snapshot(T0.AddSeconds(2), Workload("w1", "fn", calls: new CallStats { Total = 30 })));

        Assert.Equal(0, Assert.Single(first.Workloads).CallsPerSecond); // nothing to compare with yet: the node's 0
        Assert.Equal(10, Assert.Single(second.Workloads).CallsPerSecond);
    }

    [Fact]
    public void Update_ComputesCpuPercentFromCpuSecondsDeltas_AndNullOnTheFirstReading()
    {
        var model = new TopModel();
        var first = model.Update(Snapshot(T0, Workload("w1", "svc", cpuSeconds: 10.0)));
        var second = model.Update(Snapshot(T0.AddSeconds(2), Workload("w1", "svc", cpuSeconds: 10.5)));
        var restarted = model.Update(Snapshot(T0.AddSeconds(3), Workload("w1", "svc", cpuSeconds: 0.1)));

        Assert.Null(Assert.Single(first.Workloads).CpuPercent);
        Assert.Equal(25.0, Assert.Single(second.Workloads).CpuPercent);
        Assert.Null(Assert.Single(restarted.Workloads).CpuPercent); // CPU time went back: unknown, not negative
    }

    [Fact]
    public void View_LeavesMissingValuesNull_ForServicesAnd02Nodes()
    {
        var model = new TopModel();
        var view = model.Update(Snapshot(T0, Workload("w1", "svc"), Workload("w2", "fn", calls: new CallStats { Total = 0, P50Micros = 0 })));

        var svc = Assert.Single(view.Workloads, w => w.Id == "w1");
        Assert.Null(svc.CallsPerSecond);
        Assert.Null(svc.Errors);
        Assert.Null(svc.P50Micros);
        Assert.Null(svc.MemoryBytes);
        Assert.Null(svc.CpuSeconds);
        var fn = Assert.Single(view.Workloads, w => w.Id == "w2");
        Assert.Equal(0, fn.Errors);
        Assert.Null(fn.P50Micros); // no call yet: no latency, not 0 µs
    }

    [Fact]
    public void View_TotalsCallsPerSecond_IsNullWhenNoWorkloadReportsCalls()
    {
        var view = new TopModel().Update(Snapshot(T0, Workload("w1", "svc", memory: 1024)));
        Assert.Equal(new TopTotals { Nodes = 1, Workloads = 1, CallsPerSecond = null }, view.Totals);
    }

    [Fact]
    public void View_FiltersByNamespace_CaseInsensitively_AndCyclesAllThenEachSeen()
    {
        var model = new TopModel("*");
        model.Observe("zeta");
        model.Observe(NexSubjects.SystemNamespace); // holds no workloads: never a filter
        var view = model.Update(Snapshot(T0, Workload("w1", "a", ns: "default"), Workload("w2", "b", ns: "Team"), Workload("w3", "c", ns: "team")));
        Assert.Null(view.Namespace);
        Assert.Equal(3, view.Workloads.Count);
        Assert.Equal(["Team", "default", "team", "zeta"], model.Namespaces);
        Assert.Equal(model.Namespaces, model.QueryNamespaces);

        model.CycleNamespace();
        Assert.Equal("Team", model.Namespace);
        Assert.Equal(["w2", "w3"], model.View().Workloads.Select(w => w.Id));
        Assert.Equal(["Team"], model.QueryNamespaces);
        model.CycleNamespace();
        model.CycleNamespace();
        model.CycleNamespace();
        Assert.Equal("zeta", model.Namespace);
        Assert.Empty(model.View().Workloads);
        model.CycleNamespace();
        Assert.Null(model.Namespace);
    }

    [Fact]
    public void Constructor_TakesTheGivenNamespaceAsTheFirstFilter()
    {
        var model = new TopModel("team");
        Assert.Equal("team", model.Namespace);
        Assert.Equal(["default", "team"], model.Namespaces);
        Assert.Equal(["team"], model.QueryNamespaces);
    }

    [Fact]
    public void SortRows_PutsLargestFirst_MissingLast_AndBreaksTiesByName()
    {
        TopWorkloadRow Row(string id, string name, double? calls = null, long? errors = null, long? memory = null, double? cpu = null) =>
            new() { Id = id, Name = name, CallsPerSecond = calls, Errors = errors, MemoryBytes = memory, CpuPercent = cpu };
        var rows = new[]
        {
            Row("1", "delta", calls: 5, errors: 1, memory: 300, cpu: 1),
            Row("2", "alpha", calls: 5, errors: 0, memory: 100, cpu: 50),
            Row("3", "charlie"),
            Row("4", "bravo", calls: 9, errors: 4, memory: 200, cpu: null),
        };

        Assert.Equal(["bravo", "alpha", "delta", "charlie"], TopModel.SortRows(rows, TopSort.CallsPerSecond).Select(r => r.Name));
        Assert.Equal(["bravo", "delta", "alpha", "charlie"], TopModel.SortRows(rows, TopSort.Errors).Select(r => r.Name));
        Assert.Equal(["delta", "bravo", "alpha", "charlie"], TopModel.SortRows(rows, TopSort.Memory).Select(r => r.Name));
        Assert.Equal(["alpha", "delta", "bravo", "charlie"], TopModel.SortRows(rows, TopSort.Cpu).Select(r => r.Name));
        Assert.Equal(["alpha", "bravo", "charlie", "delta"], TopModel.SortRows(rows, TopSort.Name).Select(r => r.Name));

        // Equal keys keep one order however the rows arrive: no jumping between refreshes.
        Assert.Equal(
            TopModel.SortRows(rows, TopSort.CallsPerSecond).Select(r => r.Id),
            TopModel.SortRows(rows.Reverse(), TopSort.CallsPerSecond).Select(r => r.Id));
    }

    [Fact]
    public void CycleSort_GoesCallsErrorsMemoryCpuName_AndRound()
    {
        var model = new TopModel();
        var seen = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            seen.Add(model.View().Sort);
            model.CycleSort();
        }

        Assert.Equal(["calls", "errors", "memory", "cpu", "name", "calls"], seen);
    }

    [Fact]
    public void View_NodeRows_ShowLameDuckMemoryAndProblems()
    {
        var snapshot = new TopSnapshot(T0, [Node("n1", "alpha", lameDuck: true, memory: new MemoryStat { Total = 1024, Available = 256 }), Node("n2", "bravo", problem: "no reply from node n2 within 1s")], [], ["default"]);
        var view = new TopModel().Update(snapshot);

        var alpha = view.Nodes[0];
        Assert.True(alpha.LameDuck);
        Assert.Equal(768 * 1024, alpha.MemoryUsedBytes);
        Assert.Equal(1024 * 1024, alpha.MemoryTotalBytes);
        Assert.Null(alpha.Problem);
        var bravo = view.Nodes[1];
        Assert.False(bravo.LameDuck);
        Assert.Null(bravo.MemoryTotalBytes);
        Assert.Equal("no reply from node n2 within 1s", bravo.Problem);
    }

    [Theory]
    [InlineData(null, "–")]
    [InlineData(512L, "512 B")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(24536678L, "23.4 MiB")]
    [InlineData(1610612736L, "1.5 GiB")]
    public void Bytes_UsesBinaryUnits(long? bytes, string expected) => Assert.Equal(expected, TopFormat.Bytes(bytes));

    [Theory]
    [InlineData(null, "–")]
    [InlineData(512L, "512B")]
    [InlineData(24536678L, "23.4M")]
    [InlineData(148000000L, "141M")]
    [InlineData(1610612736L, "1.5G")]
    public void CompactBytes_FitsSixCharacters(long? bytes, string expected) => Assert.Equal(expected, TopFormat.CompactBytes(bytes));

    [Theory]
    [InlineData(null, "–")]
    [InlineData(850L, "850µs")]
    [InlineData(12345L, "12.3ms")]
    [InlineData(2500000L, "2.50s")]
    public void Micros_PicksTheUnit(long? micros, string expected) => Assert.Equal(expected, TopFormat.Micros(micros));

    [Theory]
    [InlineData(null, "–")]
    [InlineData(0.0, "0.0")]
    [InlineData(42.04, "42.0")]
    [InlineData(1234.4, "1234")]
    public void Rate_OneDecimalBelowAHundred(double? rate, string expected) => Assert.Equal(expected, TopFormat.Rate(rate));

    [Theory]
    [InlineData("45s", "45s")]
    [InlineData("3m7s", "3m07s")]
    [InlineData("2h0m5s", "2h00m")]
    [InlineData("1d3h0m0s", "1d03h")]
    [InlineData("1y2d3h4m5s", "367d03h")]
    [InlineData("unknown", "–")]
    [InlineData("", "–")]
    [InlineData("5", "–")]
    [InlineData("5x", "–")]
    [InlineData("99999999999s", "–")]
    public void ParseUptime_ThenDuration_ShortensTheNodesText(string text, string expected) =>
        Assert.Equal(expected, TopFormat.Duration(TopFormat.ParseUptime(text)));

    [Fact]
    public void Truncate_EndsInAnEllipsisOnlyWhenCut()
    {
        Assert.Equal("echo", TopFormat.Truncate("echo", 4));
        Assert.Equal("ech…", TopFormat.Truncate("echoservice", 4));
        Assert.Equal("NBXO6FKSOZBX", TopFormat.ShortId("NBXO6FKSOZBXZFPZTIP6O6ZMUKRYFDK4TKMCCFAYFJNRQPY5Q3RWWBOH"));
        Assert.Equal("–", TopFormat.UsedOfTotal(null, 1));
        Assert.Equal("3.0/16.0 GiB", TopFormat.UsedOfTotal(3L << 30, 16L << 30));
    }
}
