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
        var smoke = new Option<bool>("--smoke") { Description = "a tiny run that only checks every step works (seconds, not minutes)" };
        var output = new Option<string>("--out") { Description = "JSON file to write", DefaultValueFactory = _ => "bench-results.json" };
        var markdown = new Option<string?>("--markdown") { Description = "also write the tables into this Markdown file, between the bench markers" };
        var examples = new Option<string?>("--examples") { Description = "the examples directory (default: found above the working directory)" };
        var drivers = new Option<string?>("--drivers") { Description = "comma-separated sandbox drivers (default: every one this machine has)" };
        var samples = new Option<int?>("--samples") { Description = "sequential calls per latency series (default 3000)" };
        var nodeDir = new Option<string?>("--node-dir") { Description = "the nex build to measure: a directory with nex.dll and its agent (default: the harness's own copy)" };
        var soak = new Option<int?>("--soak") { Description = "instead of the benchmark: this many deploy/stop cycles of the V8 echo function on one node, sampling memory every segment" };
        var soakSegment = new Option<int>("--soak-segment") { Description = "cycles per soak sample", DefaultValueFactory = _ => 100 };
        var soakCsv = new Option<string>("--soak-csv") { Description = "CSV file the soak's samples go to", DefaultValueFactory = _ => "soak.csv" };
        var root = new RootCommand("Measures a Nex node against raw NATS on this machine, in one run")
        {
            smoke, output, markdown, examples, drivers, samples, nodeDir, soak, soakSegment, soakCsv,
        };
        root.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(soak) is { } cycles)
            {
                if (cycles <= 0 || parse.GetValue(soakSegment) <= 0)
                {
                    await Console.Error.WriteLineAsync("nex-bench: --soak and --soak-segment take a positive number of cycles").ConfigureAwait(false);
                    return 1;
                }

                var soakExamples = parse.GetValue(examples) ?? FindExamples();
                if (soakExamples is null)
                {
                    await Console.Error.WriteLineAsync("nex-bench: no examples directory found above the working directory; pass --examples").ConfigureAwait(false);
                    return 1;
                }

                Console.WriteLine(Soak.Header);
                var run = new Soak(soakExamples, parse.GetValue(nodeDir) is { Length: > 0 } soakNode ? Path.GetFullPath(soakNode) : null);
                var soakSamples = await run.RunAsync(cycles, parse.GetValue(soakSegment), line => Console.WriteLine(line), cancellationToken).ConfigureAwait(false);
                await File.WriteAllTextAsync(parse.GetValue(soakCsv)!, Soak.Csv(soakSamples), cancellationToken).ConfigureAwait(false);
                return 0;
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

    private static void Render(BenchReport report)
    {
        var m = report.Machine;
        AnsiConsole.MarkupLine($"[bold]Nex benchmark[/] on {Markup.Escape(m.Cpu)}, {m.Cores} cores; {Markup.Escape(m.NatsServer)}; agent {Markup.Escape(m.Agent)}; {report.DurationSeconds:0} s");
        foreach (var t in ReportTables.Build(report))
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

        foreach (var error in report.Errors)
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
