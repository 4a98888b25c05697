using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Spectre.Console;

namespace Nex.Cli;

/// <summary>Where command results go: Spectre tables on a terminal, plain tab-separated lines when
/// piped, JSON with <c>--json</c>. Errors are one line on stderr.</summary>
internal sealed class Output(bool json)
{
    public bool Json { get; } = json;

    public static bool IsTerminal => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Ansi;

    public static void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        if (IsTerminal)
        {
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var header in headers)
            {
                table.AddColumn(new TableColumn(Markup.Escape(header)));
            }

            foreach (var row in rows)
            {
                table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)).ToArray());
            }

            AnsiConsole.Write(table);
            return;
        }

        Console.Out.WriteLine(string.Join('\t', headers));
        foreach (var row in rows)
        {
            Console.Out.WriteLine(string.Join('\t', row));
        }
    }

    public static void Pairs(IEnumerable<(string Key, string Value)> pairs)
    {
        var list = pairs.ToList();
        var width = list.Count == 0 ? 0 : list.Max(p => p.Key.Length);
        foreach (var (key, value) in list)
        {
            if (IsTerminal)
            {
                AnsiConsole.MarkupLine($"[bold]{Markup.Escape(key.PadRight(width))}[/]  {Markup.Escape(value)}");
            }
            else
            {
                Console.Out.WriteLine($"{key.PadRight(width)}  {value}");
            }
        }
    }

    public static void Heading(string text)
    {
        if (IsTerminal)
        {
            AnsiConsole.MarkupLine($"\n[bold underline]{Markup.Escape(text)}[/]");
        }
        else
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine(text);
        }
    }

    public static void Line(string text) => Console.Out.WriteLine(text);

    public static void WriteJson<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var element = JsonSerializer.SerializeToElement(value, typeInfo);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            element.WriteTo(writer);
        }

        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    public static void WriteJson(System.Text.Json.Nodes.JsonNode value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            value.WriteTo(writer);
        }

        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    public static void WriteJsonLine(ReadOnlySpan<byte> raw) => Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(raw));

    public static void Error(string message) => Console.Error.WriteLine($"nex: {message}");
}
