using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Nex.Cli;

/// <summary>The node's console logging: <c>HH:mm:ss LEVEL message</c>, one line per entry (<see cref="NodeConsoleFormatter"/>).</summary>
internal static class NodeLogging
{
    public static ILoggerFactory Create(string level)
    {
        var minimum = level switch
        {
            "none" => LogLevel.None,
            "debug" => LogLevel.Debug,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.Information,
        };
        return LoggerFactory.Create(builder => builder
            .SetMinimumLevel(minimum)
            .AddFilter("NATS", LogLevel.Warning)
            .AddConsole(o => o.FormatterName = NodeConsoleFormatter.FormatterName)
            .AddConsoleFormatter<NodeConsoleFormatter, NodeConsoleFormatterOptions>(o =>
            {
                o.TimestampFormat = "HH:mm:ss";
                o.Colors = Ansi.UseColors(!Console.IsOutputRedirected, Environment.GetEnvironmentVariable("NO_COLOR"));
                o.StackTraces = minimum <= LogLevel.Debug;
            }));
    }
}
