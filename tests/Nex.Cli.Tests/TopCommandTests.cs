using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Nex.Cli.Commands;
using Nex.Client;
using Nex.Testing;
using Spectre.Console;
using Spectre.Console.Rendering;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary><c>nex top</c>: one reading drawn to text, and <c>--json</c> / plain output against a real node.</summary>
public sealed class TopCommandTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset Time = new(2026, 12, 7, 2, 0, 0, TimeSpan.Zero);

    private static TopView SampleView(int workloads = 2) => new()
    {
        Time = Time,
        Namespace = null,
        Sort = "calls",
        Totals = new TopTotals { Nodes = 2, Workloads = workloads, CallsPerSecond = 12.5 },
        Nodes =
        [
            new TopNodeRow { Id = "NBXO6FKSOZBXZFPZTIP6O6ZMUKRYFDK4TKMCCFAYFJNRQPY5Q3RWWBOH", Name = "brave-salmon", Version = "0.3.0", Uptime = "1h2m3s", Workloads = 2, MemoryUsedBytes = 3L << 30, MemoryTotalBytes = 16L << 30 },
            new TopNodeRow { Id = "NCQ7ZKXVXTEL4JBM2ZV3F2M3ZKQIC5DOUEV6HE2V3BXH7ZB6ZJ3R5AGM", Name = "a-node-with-a-very-long-name", Version = "0.3.0", Uptime = "45s", LameDuck = true, Problem = "no reply from node NCQ7ZKXVXTEL… within 1s" },
        ],
        Workloads = [.. Enumerable.Range(0, workloads).Select(i => i == 0
            ? new TopWorkloadRow { Id = "w1", Name = "echofunctionjs-with-a-long-name", Namespace = "default", Type = "v8", NodeId = "NBXO6FKSOZBX", NodeName = "brave-salmon", CallsPerSecond = 12.5, Calls = 100, Errors = 3, P50Micros = 1250, MemoryBytes = 148000000, CpuPercent = 7.5, Restarts = 1 }
            : new TopWorkloadRow { Id = $"w{i + 1}", Name = $"svc{i}", Namespace = "team", Type = "native", NodeId = "NBXO6FKSOZBX", NodeName = "brave-salmon" })],
    };

    private static string[] RenderLines(IRenderable renderable, int width)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = width;
        console.Write(renderable);
        return writer.ToString().Split('\n').Select(l => l.TrimEnd('\r').TrimEnd()).ToArray();
    }

    [Fact]
    public void Render_OneReading_FitsEightyColumns_WithEveryColumnAndMissingValuesAsDashes()
    {
        var events = new[] { new TopEventLine(Time, "default", "workload_deployed", "workload echofunctionjs deployed (NBXO6FKSOZBX)") };
        var lines = RenderLines(TopScreen.Render(SampleView(), events, 80, 40), 80);
        var text = string.Join('\n', lines);

        Assert.All(lines, l => Assert.True(l.Length <= 80, $"{l.Length} columns: '{l}'"));
        Assert.StartsWith("nex top · 2 nodes · 2 workloads · 12.5 calls/s · namespace all · sort calls", lines[0], StringComparison.Ordinal);

        var nodeHeader = Assert.Single(lines, l => l.StartsWith("NODE", StringComparison.Ordinal));
        Assert.Equal(["NODE", "ID", "UPTIME", "WL", "MEMORY", "LAME", "DUCK", "VERSION"], nodeHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["brave-salmon", "NBXO6FKSOZBX", "1h02m", "2", "3.0/16.0", "GiB", "no", "0.3.0"], Row(lines, "brave-salmon "));
        Assert.Equal(["a-node-with-a-v…", "NCQ7ZKXVXTEL", "45s", "0", "–", "yes", "0.3.0"], Row(lines, "a-node-with-a-v…"));
        Assert.Contains("a-node-with-a-very-long-name: no reply from node NCQ7ZKXVXTEL… within 1s", text, StringComparison.Ordinal);

        var workloadHeader = Assert.Single(lines, l => l.StartsWith("NAME", StringComparison.Ordinal));
        Assert.Equal(["NAME", "NAMESPACE", "TYPE", "NODE", "CALLS/S", "ERR", "P50", "MEM", "CPU%", "RST"], workloadHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["echofunctionj…", "default", "v8", "brave-sal…", "12.5", "3", "1.3ms", "141M", "7.5", "1"], Row(lines, "echofunction"));
        Assert.Equal(["svc1", "team", "native", "brave-sal…", "–", "–", "–", "–", "–", "0"], Row(lines, "svc1"));

        Assert.Contains("Latest events", text, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("workload_deployed", StringComparison.Ordinal) && l.Contains("workload echofunctionjs deployed", StringComparison.Ordinal));
    }

    [Fact]
    public void Render_WiderTerminal_GivesNamesMoreRoom()
    {
        var lines = RenderLines(TopScreen.Render(SampleView(), [], 140, 40), 140);
        Assert.Equal("echofunctionjs-with-a-long-name", Row(lines, "echofunction")[0]);
        Assert.Contains(lines, l => l == "none yet");
    }

    [Fact]
    public void Render_MoreWorkloadsThanFit_ShowsWhatFitsAndHowManyMore()
    {
        var lines = RenderLines(TopScreen.Render(SampleView(workloads: 40), [], 80, 24), 80);
        Assert.True(lines.Length <= 24, $"{lines.Length} lines:\n{string.Join('\n', lines)}");
        Assert.Contains(lines, l => l.StartsWith("… and ", StringComparison.Ordinal) && l.EndsWith(" more", StringComparison.Ordinal));
    }

    [Fact]
    public void Render_WithAStatus_ShowsItUnderTheHeader()
    {
        var lines = RenderLines(TopScreen.Render(SampleView(), [], 80, 40, "not connected to NATS; reconnecting…"), 80);
        Assert.Equal("not connected to NATS; reconnecting…", lines[2]);
    }

    [Fact]
    public void Render_NoNodes_SaysSo()
    {
        var lines = RenderLines(TopScreen.Render(new TopModel().View(), [], 80, 24), 80);
        Assert.Contains("No nodes answered", lines);
        Assert.Contains("No workloads", lines);
    }

    private static string[] Row(string[] lines, string start) =>
        Assert.Single(lines, l => l.StartsWith(start, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData("10ms", "invalid --interval: 10ms (at least 100ms)")]
    [InlineData("soon", "invalid duration for --interval: 'soon'")]
    public async Task Top_BadInterval_IsOneLine(string interval, string expected)
    {
        var cli = await CliProcess.RunAsync(["top", "--interval", interval, "-s", nats.Url]);
        Assert.Equal(1, cli.ExitCode);
        var line = Assert.Single(cli.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("q")]
    [InlineData("\u0003")] // Ctrl-C, turned into SIGINT by the terminal
    public async Task Live_InATerminal_DrawsTheScreen_AndQuitsCleanly(string key)
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var name = node.Node.Tags["node_name"];

        // A real terminal: script(1) (util-linux, on every Debian) runs nex top on a pseudo-terminal of 80x30. A test run
        // started in the background of a script inherits SIGINT ignored, and top would too: the terminal's Ctrl-C would
        // do nothing. So SIGINT gets its default back, as a terminal's shell gives its foreground job (as in CtrlCTests).
        var info = new ProcessStartInfo("script") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-qefc", $"stty cols 80 rows 30; exec env --default-signal=INT dotnet '{CliProcess.NexDll}' top -s {nats.Url} --interval 200ms", "/dev/null" })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var variable in new[] { "NATS_URL", "NATS_CONTEXT", "NEX_NAMESPACE", "NATS_TIMEOUT" })
        {
            info.Environment.Remove(variable);
        }

        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        var reading = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer, Ct)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, read);
                }
            }
        }, Ct);
        string Output()
        {
            lock (output)
            {
                return output.ToString();
            }
        }

        try
        {
            await CliTestSupport.WaitUntilAsync(() => Output().Contains(name, StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the node's row on the live screen");
            Assert.Contains("\u001b[?1049h", Output(), StringComparison.Ordinal); // the alternate screen
            Assert.Contains("LAME DUCK", Output(), StringComparison.Ordinal);

            await process.StandardInput.WriteAsync(key);
            await process.StandardInput.FlushAsync(Ct);
            using var exit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            exit.CancelAfter(TimeSpan.FromSeconds(15));
            try
            {
                await process.WaitForExitAsync(exit.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                Assert.Fail($"still running 15 s after the key; processes: {CliTestSupport.Describe(process.Id)}; the screen's end: {Output()[Math.Max(0, Output().Length - 400)..].Replace("\u001b", "\\e", StringComparison.Ordinal)}");
            }

            await reading;

            Assert.Equal(0, process.ExitCode);
            var tail = Output()[Output().LastIndexOf(name, StringComparison.Ordinal)..];
            Assert.Contains("\u001b[?1049l", tail, StringComparison.Ordinal); // back to the shell's screen
            Assert.Contains("\u001b[?25h", tail, StringComparison.Ordinal); // with the cursor
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task TopJson_AfterDeployingAFunction_ShowsTheNodeAndItsWorkloads()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8"], MachinePoolSize = 2 });
        var bucket = "TOP" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var trigger = "top." + Guid.NewGuid().ToString("N")[..8];
        var js = File.ReadAllBytes(Path.Combine(Examples.RepositoryRoot, "examples", "js", "echo.js"));
        var fnLocation = await Artifacts.UploadAsync(node.Connection, bucket, "echojs", js);
        var (fnId, fnError) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "echojs", type: "v8", location: fnLocation, triggers: [trigger]));
        Assert.True(fnError is null, fnError);
        var svcLocation = await Artifacts.UploadAsync(node.Connection, bucket, "sleeper", Artifacts.Script("exec sleep 600"));
        var (svcId, svcError) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "sleeper", location: svcLocation), ns: "team-b");
        Assert.True(svcError is null, svcError);
        var reply = await node.Connection.RequestAsync<string, string>(trigger, "hi", cancellationToken: Ct);
        Assert.Contains("hi", reply.Data, StringComparison.Ordinal);

        // The default namespace (no -n): the function only.
        var cli = await CliProcess.RunAsync(["top", "--json", "-s", nats.Url, "--timeout", "5s"], timeout: TimeSpan.FromSeconds(60));
        Assert.True(cli.ExitCode == 0, $"exit {cli.ExitCode}\n{cli.StdOut}\n{cli.StdErr}");
        using var doc = JsonDocument.Parse(cli.StdOut);
        var root = doc.RootElement;
        Assert.Equal("default", root.GetProperty("namespace").GetString());
        var shownNode = Assert.Single(root.GetProperty("nodes").EnumerateArray());
        Assert.Equal(node.NodeId, shownNode.GetProperty("id").GetString());
        Assert.Equal(node.Node.Tags["node_name"], shownNode.GetProperty("name").GetString());
        Assert.Equal(2, shownNode.GetProperty("workloads").GetInt32());
        Assert.False(shownNode.GetProperty("lame_duck").GetBoolean());
        Assert.Equal(JsonValueKind.Null, shownNode.GetProperty("problem").ValueKind);
        var fn = Assert.Single(root.GetProperty("workloads").EnumerateArray());
        Assert.Equal(fnId, fn.GetProperty("id").GetString());
        Assert.Equal("echojs", fn.GetProperty("name").GetString());
        Assert.Equal("v8", fn.GetProperty("type").GetString());
        Assert.Equal(node.NodeId, fn.GetProperty("node_id").GetString());
        Assert.True(fn.GetProperty("memory_bytes").GetInt64() > 0);
        Assert.True(fn.GetProperty("cpu_seconds").GetDouble() >= 0);
        Assert.Equal(0u, fn.GetProperty("restarts").GetUInt32());
        Assert.Equal(1, root.GetProperty("totals").GetProperty("workloads").GetInt32());
        if (fn.GetProperty("calls").ValueKind != JsonValueKind.Null)
        {
            // Once nodes report call statistics (INFO's 'calls'), the call made above shows.
            Assert.True(fn.GetProperty("calls").GetInt64() >= 1);
            Assert.Equal(0, fn.GetProperty("errors").GetInt64());
        }

        // Every namespace (-n '*'): the service in team-b too, found through the desired state.
        cli = await CliProcess.RunAsync(["top", "--json", "-n", "*", "-s", nats.Url, "--timeout", "5s"], timeout: TimeSpan.FromSeconds(60));
        Assert.True(cli.ExitCode == 0, $"exit {cli.ExitCode}\n{cli.StdOut}\n{cli.StdErr}");
        using var all = JsonDocument.Parse(cli.StdOut);
        Assert.Equal(JsonValueKind.Null, all.RootElement.GetProperty("namespace").ValueKind);
        var rows = all.RootElement.GetProperty("workloads").EnumerateArray().ToList();
        Assert.Equal(new[] { fnId, svcId }.Order(StringComparer.Ordinal), rows.Select(r => r.GetProperty("id").GetString()).Order(StringComparer.Ordinal));
        var svc = Assert.Single(rows, r => r.GetProperty("id").GetString() == svcId);
        Assert.Equal("team-b", svc.GetProperty("namespace").GetString());
        Assert.Equal("native", svc.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, svc.GetProperty("calls_per_second").ValueKind);

        // Piped without --json: plain tab-separated tables.
        cli = await CliProcess.RunAsync(["top", "-s", nats.Url, "--timeout", "5s"], timeout: TimeSpan.FromSeconds(60));
        Assert.True(cli.ExitCode == 0, $"exit {cli.ExitCode}\n{cli.StdOut}\n{cli.StdErr}");
        var lines = cli.StdOut.Split('\n');
        Assert.StartsWith("nex top · 1 node · 1 workload · ", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith($"echojs\tdefault\tv8\t{node.Node.Tags["node_name"]}\t", StringComparison.Ordinal) && l.EndsWith("\t" + fnId, StringComparison.Ordinal));
    }
}
