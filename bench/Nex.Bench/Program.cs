using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Nex.Bench;

/// <summary><c>nex-bench</c>: see bench/run and BENCHMARKS.md.</summary>
internal static class Program
{
    internal const string MarkdownBegin = "<!-- bench:begin (written by bench/run --markdown; edit outside these markers) -->";
    internal const string MarkdownEnd = "<!-- bench:end -->";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task<int> Main(string[] args)
    {
        if (args is [RawNats.ProcessFloor.ServeCommand, .. var part])
        {
            // One half of the process floor, started by a measuring run (RawNats.ProcessFloor).
            return await RawNats.ProcessFloor.ServeAsync(part).ConfigureAwait(false);
        }

        var smoke = new Option<bool>("--smoke") { Description = "a tiny run that only checks every step works (seconds, not minutes)" };
        var output = new Option<string>("--out") { Description = "JSON file to write", DefaultValueFactory = _ => "bench-results.json" };
        var markdown = new Option<string?>("--markdown") { Description = "also write the tables into this Markdown file, between the bench markers (with --campaign: the whole file)" };
        var examples = new Option<string?>("--examples") { Description = "the examples directory (default: found above the working directory)" };
        var drivers = new Option<string?>("--drivers") { Description = "comma-separated sandbox drivers (default: every one this machine has)" };
        var samples = new Option<int?>("--samples") { Description = "sequential calls per latency series (default 3000)" };
        var functions = new Option<string?>("--functions") { Description = "comma-separated function lanes to measure, in that order (v8, v8-reuse, wasm; default all)" };
        var functionsOnly = new Option<bool>("--functions-only") { Description = "measure only the baseline and the function lanes (no deploys, control plane, footprint or pool fill): for A/B runs" };
        var nodeDir = new Option<string?>("--node-dir") { Description = "the nex build to measure: a directory with nex.dll and its agent (default: the harness's own copy)" };
        var campaign = new Option<bool>("--campaign") { Description = "run the hardening campaign of issue 15 instead (malformed control requests, isolation attempts, kill -9 survival, deploy/stop soak); about 8 minutes" };
        var quick = new Option<bool>("--quick") { Description = "with --campaign: a smaller campaign (short corpus, 100 cycles, 20 s recovery windows; a few minutes)" };
        var cycles = new Option<int?>("--cycles") { Description = "with --campaign: deploy/stop cycles of the soak (default 1500; --quick 100)" };
        var sections = new Option<string?>("--sections") { Description = "with --campaign: comma-separated sections to run (malformed,isolation,survival,soak; default all)" };
        var json = new Option<bool>("--json") { Description = "with --campaign: print the report as JSON on stdout instead of tables" };
        var fleet = new Option<bool>("--fleet") { Description = "measure the fleet instead: 3 nodes on a 3-server NATS cluster; placement spread, and kill -9 of the node that runs a service to its first answer from another node" };
        var rounds = new Option<int?>("--rounds") { Description = "with --fleet: kill -9 rounds (default 5)" };
        var heartbeat = new Option<int?>("--heartbeat-ms") { Description = "with --fleet: the nodes' fleet.heartbeat_ms (default 2000)" };
        var grace = new Option<int?>("--grace-ms") { Description = "with --fleet: the nodes' fleet.lease_grace_ms (default 10000)" };
        var root = new RootCommand("Measures a Nex node against raw NATS on this machine, in one run")
        {
            smoke, output, markdown, examples, drivers, samples, functions, functionsOnly, nodeDir, campaign, quick, cycles, sections, json, fleet, rounds, heartbeat, grace,
        };
        root.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(fleet))
            {
                var fs = new FleetSettings();
                fs = fs with
                {
                    Rounds = parse.GetValue(rounds) ?? fs.Rounds,
                    HeartbeatMs = parse.GetValue(heartbeat) ?? fs.HeartbeatMs,
                    LeaseGraceMs = parse.GetValue(grace) ?? fs.LeaseGraceMs,
                };
                if (fs.Rounds < 0 || fs.HeartbeatMs < 100 || fs.LeaseGraceMs < 2 * fs.HeartbeatMs)
                {
                    await Console.Error.WriteLineAsync("nex-bench: --fleet needs --rounds >= 0, --heartbeat-ms >= 100 and --grace-ms >= 2 × --heartbeat-ms").ConfigureAwait(false);
                    return 1;
                }

                if ((parse.GetValue(examples) ?? FindExamples()) is not { } fleetExamples)
                {
                    await Console.Error.WriteLineAsync("nex-bench: no examples directory found above the working directory; pass --examples").ConfigureAwait(false);
                    return 1;
                }

                var fleetNodeDir = parse.GetValue(nodeDir) is { Length: > 0 } fd ? Path.GetFullPath(fd) : null;
                var fleetReport = await new Fleet(fs, fleetExamples, fleetNodeDir, Console.Error.WriteLine).RunAsync(cancellationToken).ConfigureAwait(false);
                var fleetOut = parse.GetValue(output)!;
                if (Path.GetDirectoryName(Path.GetFullPath(fleetOut)) is { } fleetDir)
                {
                    Directory.CreateDirectory(fleetDir);
                }

                await File.WriteAllTextAsync(fleetOut, JsonSerializer.Serialize(fleetReport, Json), cancellationToken).ConfigureAwait(false);
                RenderTables($"[bold]Nex fleet[/]: {fleetReport.DurationSeconds:0} s", FleetTables.Build(fleetReport), fleetReport.Errors);
                return fleetReport.Errors.Count == 0 && fleetReport.Lost == 0 && fleetReport.Doubled == 0 ? 0 : 1;
            }

            if (parse.GetValue(campaign))
            {
                var cs = parse.GetValue(quick) ? CampaignSettings.Quick : CampaignSettings.Full;
                if (parse.GetValue(cycles) is { } c)
                {
                    if (c < 1)
                    {
                        await Console.Error.WriteLineAsync("nex-bench: --cycles must be at least 1").ConfigureAwait(false);
                        return 1;
                    }

                    cs = cs with { Cycles = c };
                }

                if (parse.GetValue(sections) is { Length: > 0 } only)
                {
                    cs = cs with { Sections = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
                }

                var campaignNodeDir = parse.GetValue(nodeDir);
                if (campaignNodeDir is { Length: > 0 } && !File.Exists(Path.Combine(campaignNodeDir, "nex.dll")))
                {
                    await Console.Error.WriteLineAsync($"nex-bench: --node-dir {campaignNodeDir} holds no nex.dll").ConfigureAwait(false);
                    return 1;
                }

                var campaignExamples = parse.GetValue(examples) ?? FindExamples();
                if (campaignExamples is null)
                {
                    await Console.Error.WriteLineAsync("nex-bench: no examples directory found above the working directory; pass --examples").ConfigureAwait(false);
                    return 1;
                }

                try
                {
                    var result = await new Campaign(cs, campaignExamples, campaignNodeDir is { Length: > 0 } ? Path.GetFullPath(campaignNodeDir) : null, Console.Error.WriteLine).RunAsync(cancellationToken).ConfigureAwait(false);
                    await WriteCampaignAsync(result, parse.GetValue(output)!, parse.GetValue(markdown), cancellationToken).ConfigureAwait(false);
                    if (parse.GetValue(json))
                    {
                        Console.WriteLine(JsonSerializer.Serialize(result, Json));
                    }
                    else
                    {
                        RenderCampaign(result);
                    }

                    return result.Errors.Count == 0 ? 0 : 1;
                }
                catch (BenchException ex)
                {
                    await Console.Error.WriteLineAsync($"nex-bench: {ex.Message}").ConfigureAwait(false);
                    return 1;
                }
            }

            var settings = parse.GetValue(smoke) ? BenchSettings.Smoke : BenchSettings.Full;
            if (parse.GetValue(samples) is { } n)
            {
                settings = settings with { Samples = n };
            }

            if (parse.GetValue(drivers) is { Length: > 0 } list)
            {
                settings = settings with { Drivers = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
            }

            if (parse.GetValue(functions) is { } lanes)
            {
                var chosen = lanes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (chosen.Length == 0 || chosen.FirstOrDefault(l => !BenchSettings.AllFunctionLanes.Contains(l)) is { } unknown)
                {
                    await Console.Error.WriteLineAsync($"nex-bench: --functions takes {string.Join(", ", BenchSettings.AllFunctionLanes)} (got '{lanes}')").ConfigureAwait(false);
                    return 1;
                }

                settings = settings with { FunctionLanes = chosen };
            }

            settings = settings with { FunctionsOnly = parse.GetValue(functionsOnly) };

            if (parse.GetValue(nodeDir) is { Length: > 0 } dir)
            {
                if (!File.Exists(Path.Combine(dir, "nex.dll")))
                {
                    await Console.Error.WriteLineAsync($"nex-bench: --node-dir {dir} holds no nex.dll").ConfigureAwait(false);
                    return 1;
                }

                settings = settings with { NodeDirectory = Path.GetFullPath(dir) };
            }

            var examplesDir = parse.GetValue(examples) ?? FindExamples();
            if (examplesDir is null)
            {
                await Console.Error.WriteLineAsync("nex-bench: no examples directory found above the working directory; pass --examples").ConfigureAwait(false);
                return 1;
            }

            try
            {
                var report = await RunAsync(settings, examplesDir, Console.Error.WriteLine, cancellationToken).ConfigureAwait(false);
                await WriteAsync(report, parse.GetValue(output)!, parse.GetValue(markdown), cancellationToken).ConfigureAwait(false);
                Render(report);
                return report.Errors.Count == 0 ? 0 : 1;
            }
            catch (BenchException ex)
            {
                await Console.Error.WriteLineAsync($"nex-bench: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }

    /// <summary>The whole run; also what the smoke test calls.</summary>
    internal static Task<BenchReport> RunAsync(BenchSettings settings, string examplesDirectory, Action<string> progress, CancellationToken cancellationToken) =>
        new Bench(settings, examplesDirectory, progress).RunAsync(cancellationToken);

    internal static async Task WriteAsync(BenchReport report, string jsonPath, string? markdownPath, CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(jsonPath)) is { } dir)
        {
            Directory.CreateDirectory(dir);
        }

        await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, Json), cancellationToken).ConfigureAwait(false);
        if (markdownPath is not null)
        {
            var text = File.Exists(markdownPath) ? await File.ReadAllTextAsync(markdownPath, cancellationToken).ConfigureAwait(false) : $"# Benchmarks\n\n{MarkdownBegin}\n{MarkdownEnd}\n";
            var begin = text.IndexOf(MarkdownBegin, StringComparison.Ordinal);
            var end = text.IndexOf(MarkdownEnd, StringComparison.Ordinal);
            if (begin < 0 || end < begin)
            {
                throw new BenchException($"{markdownPath} has no bench markers ({MarkdownBegin} … {MarkdownEnd})");
            }

            var body = ReportTables.Markdown(report, "bench/run" + (report.Settings.IsSmoke ? " --smoke" : ""));
            text = text[..(begin + MarkdownBegin.Length)] + "\n" + body + "\n" + text[end..];
            await File.WriteAllTextAsync(markdownPath, text, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the campaign's JSON (and its tables into a Markdown file, when asked).</summary>
    internal static async Task WriteCampaignAsync(CampaignReport report, string jsonPath, string? markdownPath, CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(jsonPath)) is { } dir)
        {
            Directory.CreateDirectory(dir);
        }

        await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, Json), cancellationToken).ConfigureAwait(false);
        if (markdownPath is not null)
        {
            await File.WriteAllTextAsync(markdownPath, CampaignTables.Markdown(report) + "\n", cancellationToken).ConfigureAwait(false);
        }
    }

    private static void RenderCampaign(CampaignReport report)
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 220; // a file or pipe: no terminal width to fit, and the details are wide
        }

        AnsiConsole.MarkupLine($"[bold]Nex hardening campaign[/]{(report.Settings.IsQuick ? " (quick)" : "")}: {report.DurationSeconds:0} s");
        foreach (var t in CampaignTables.Build(report))
        {
            var table = new Spectre.Console.Table { Title = new TableTitle(Markup.Escape(t.Title)) };
            foreach (var header in t.Headers)
            {
                table.AddColumn(Markup.Escape(header));
            }

            foreach (var row in t.Rows)
            {
                table.AddRow([.. row.Select(c => c is "NO" or "YES" or "ALLOWED" || c.StartsWith("NO (", StringComparison.Ordinal) ? $"[red]{Markup.Escape(c)}[/]" : Markup.Escape(c))]);
            }

            AnsiConsole.Write(table);
        }

        foreach (var error in report.Errors)
        {
            AnsiConsole.MarkupLine($"[red]failed:[/] {Markup.Escape(error)}");
        }
    }

    private static void Render(BenchReport report)
    {
        var m = report.Machine;
        RenderTables($"[bold]Nex benchmark[/] on {Markup.Escape(m.Cpu)}, {m.Cores} cores; {Markup.Escape(m.NatsServer)}; agent {Markup.Escape(m.Agent)}; {report.DurationSeconds:0} s", ReportTables.Build(report), report.Errors);
    }

    private static void RenderTables(string heading, IEnumerable<ReportTable> tables, IEnumerable<string> errors)
    {
        AnsiConsole.MarkupLine(heading);
        foreach (var t in tables)
        {
            var table = new Table { Title = new TableTitle(Markup.Escape(t.Title)) };
            foreach (var header in t.Headers)
            {
                table.AddColumn(Markup.Escape(header));
            }

            foreach (var row in t.Rows)
            {
                table.AddRow([.. row.Select(c => c == "NO" ? "[red]NO[/]" : Markup.Escape(c))]);
            }

            AnsiConsole.Write(table);
        }

        foreach (var error in errors)
        {
            AnsiConsole.MarkupLine($"[red]failed:[/] {Markup.Escape(error)}");
        }
    }

    private static string? FindExamples()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "examples");
            if (File.Exists(Path.Combine(candidate, "build.sh")))
            {
                return candidate;
            }
        }

        return null;
    }
}
