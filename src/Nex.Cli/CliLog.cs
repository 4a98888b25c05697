using Microsoft.Extensions.Logging;

namespace Nex.Cli;

/// <summary>Log messages the CLI itself writes.</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "{Warning}")]
    public static partial void ConfigWarning(ILogger logger, string warning);
}
