using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Nex.Cli;

/// <summary>The node's console logging: one line per entry, with a timestamp.</summary>
internal static class NodeLogging
{
    public static ILoggerFactory Create(string level) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(level switch
        {
            "none" => LogLevel.None,
            "debug" => LogLevel.Debug,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.Information,
        })
        .AddFilter("NATS", LogLevel.Warning)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
            o.ColorBehavior = Console.IsOutputRedirected ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Default;
        }));
}
