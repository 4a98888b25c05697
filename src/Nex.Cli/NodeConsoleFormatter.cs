using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Nex.Cli;

/// <summary>Settings of <see cref="NodeConsoleFormatter"/>.</summary>
internal sealed class NodeConsoleFormatterOptions : ConsoleFormatterOptions
{
    /// <summary>Colour the level word (ANSI); off when the output is redirected.</summary>
    public bool Colors { get; set; }

    /// <summary>Write an exception's stack below its line (at <c>--loglevel debug</c>); otherwise only its message.</summary>
    public bool StackTraces { get; set; }
}

/// <summary>
/// The node's console line: <c>HH:mm:ss LEVEL message</c>. An operator reads what happened; the .NET
/// category and event id (<c>Nex.Node.NexNode[12]</c>) say nothing to them, so they are left out.
/// </summary>
internal sealed class NodeConsoleFormatter : ConsoleFormatter, IDisposable
{
    /// <summary>The name it is registered under.</summary>
    public const string FormatterName = "nex";

    private readonly IDisposable? _reload;
    private NodeConsoleFormatterOptions _options;

    public NodeConsoleFormatter(IOptionsMonitor<NodeConsoleFormatterOptions> options)
        : base(FormatterName)
    {
        _options = options.CurrentValue;
        _reload = options.OnChange(o => _options = o);
    }

    /// <summary>For tests: fixed options.</summary>
    internal NodeConsoleFormatter(NodeConsoleFormatterOptions options)
        : base(FormatterName)
    {
        _options = options;
    }

    /// <summary>The time source of the timestamp (tests fix it).</summary>
    internal TimeProvider Time { get; init; } = TimeProvider.System;

    public void Dispose() => _reload?.Dispose();

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        var exception = logEntry.Exception;
        if (string.IsNullOrEmpty(message) && exception is null)
        {
            return;
        }

        var options = _options;
        var now = options.UseUtcTimestamp ? Time.GetUtcNow() : Time.GetLocalNow();
        var (word, color) = Level(logEntry.LogLevel);
        textWriter.Write(now.ToString(options.TimestampFormat ?? "HH:mm:ss", CultureInfo.InvariantCulture));
        textWriter.Write(' ');
        textWriter.Write(Ansi.Paint(word, options.Colors ? color : null));
        textWriter.Write(new string(' ', 6 - word.Length));
        textWriter.Write(OneLine(message));
        if (exception is not null)
        {
            // The message is what an operator acts on; the stack is for whoever debugs us.
            if (!message.Contains(exception.Message, StringComparison.Ordinal))
            {
                textWriter.Write(string.IsNullOrEmpty(message) ? "" : ": ");
                textWriter.Write(OneLine(Describe(exception)));
            }

            if (options.StackTraces)
            {
                textWriter.WriteLine();
                textWriter.Write(exception.ToString().ReplaceLineEndings(Environment.NewLine + "    ").Insert(0, "    "));
            }
        }

        textWriter.WriteLine();
    }

    /// <summary>The level word, as Go's slog and the wire (<c>INFO</c>, <c>WARN</c>) spell them, and its colour.</summary>
    internal static (string Word, string? Color) Level(LogLevel level) => level switch
    {
        LogLevel.Trace => ("TRACE", Ansi.Grey),
        LogLevel.Debug => ("DEBUG", Ansi.Grey),
        LogLevel.Information => ("INFO", null),
        LogLevel.Warning => ("WARN", Ansi.Yellow),
        LogLevel.Error => ("ERROR", Ansi.Red),
        _ => ("FATAL", Ansi.BoldRed),
    };

    private static string Describe(Exception exception)
    {
        var text = exception.Message;
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!text.Contains(inner.Message, StringComparison.Ordinal))
            {
                text += ": " + inner.Message;
            }
        }

        return text;
    }

    // One entry, one line: a multi-line message (a relayed stack, a config dump) must not look like several entries.
    private static string OneLine(string text) => text.TrimEnd('\r', '\n').ReplaceLineEndings(" | ");
}
