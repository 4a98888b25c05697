using Microsoft.Extensions.Logging;

namespace Nex.Agent.Logging;

/// <summary>
/// The agent's own diagnostics: one line per entry on stderr, which the node captures as its own log
/// lines. Deliberately tiny (no console-logger queue thread, options or configuration stack) to keep
/// the idle agent small.
/// </summary>
internal sealed class StderrLoggerProvider(LogLevel minimum, TextWriter? writer = null) : ILoggerProvider, ILoggerFactory
{
    private readonly TextWriter _writer = writer ?? Console.Error;
    private readonly LogLevel _minimum = minimum;

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new StderrLogger(this);

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider)
    {
        // One sink only.
    }

    /// <inheritdoc />
    public void Dispose() => _writer.Flush();

    private void Write(LogLevel level, string message, Exception? exception)
    {
        var text = exception is null ? message : $"{message}: {exception.GetType().Name}: {exception.Message}";
        var line = $"{Label(level)}: {text.ReplaceLineEndings(" | ")}";
        lock (_writer)
        {
            _writer.WriteLine(line);
            _writer.Flush();
        }
    }

    private static string Label(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        _ => "fatal",
    };

    private sealed class StderrLogger(StderrLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= owner._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Write(logLevel, formatter(state, exception), exception);
            }
        }
    }
}
