using System.Globalization;

namespace Nex.Protocol;

/// <summary>Log level strings (Go <c>slog</c> style) and conversions (spec §7.4, §11 #6).</summary>
public static class LogLevels
{
    /// <summary>slog DEBUG (numeric −4).</summary>
    public const string Debug = "DEBUG";

    /// <summary>slog INFO (numeric 0).</summary>
    public const string Info = "INFO";

    /// <summary>slog WARN (numeric 4).</summary>
    public const string Warn = "WARN";

    /// <summary>slog ERROR (numeric 8).</summary>
    public const string Error = "ERROR";

    private const int DebugValue = -4;
    private const int InfoValue = 0;
    private const int WarnValue = 4;
    private const int ErrorValue = 8;

    /// <summary>
    /// Maps an agent level (0 panic, 1 fatal, 2 error, 3 warn, 4 info, 5 debug, 6 trace) to a level string.
    /// Deliberate fix of the Go cast (§11 #6): 0–2 → ERROR, 3 → WARN, 4 → INFO, 5–6 → DEBUG. Values below 0
    /// map to ERROR and above 6 to DEBUG.
    /// </summary>
    /// <param name="agentLevel">The agent's integer level.</param>
    /// <returns>The level string.</returns>
    public static string FromAgentLevel(int agentLevel) => agentLevel switch
    {
        <= 2 => Error,
        3 => Warn,
        4 => Info,
        _ => Debug,
    };

    /// <summary>
    /// The numeric slog value of a level string, for ordering and filtering: DEBUG −4, INFO 0, WARN 4,
    /// ERROR 8, with offsets such as <c>INFO+2</c> = 2 or <c>DEBUG-1</c> = −5. Case-insensitive.
    /// Unrecognised text ranks as INFO.
    /// </summary>
    /// <param name="level">Level text.</param>
    /// <returns>The numeric level; higher is more severe.</returns>
    public static int Rank(string? level) => TryParse(level, out var value) ? value : InfoValue;

    /// <summary>Parses a slog level string (<c>NAME</c> or <c>NAME±N</c>, case-insensitive) into its numeric value.</summary>
    /// <param name="level">Level text.</param>
    /// <param name="value">The numeric level.</param>
    /// <returns>Whether the text was a valid level.</returns>
    public static bool TryParse(string? level, out int value)
    {
        value = InfoValue;
        if (string.IsNullOrWhiteSpace(level))
        {
            return false;
        }

        var text = level.AsSpan().Trim();
        var sign = text.IndexOfAny('+', '-');
        var name = sign < 0 ? text : text[..sign];
        int baseValue;
        if (name.Equals(Debug, StringComparison.OrdinalIgnoreCase))
        {
            baseValue = DebugValue;
        }
        else if (name.Equals(Info, StringComparison.OrdinalIgnoreCase))
        {
            baseValue = InfoValue;
        }
        else if (name.Equals(Warn, StringComparison.OrdinalIgnoreCase))
        {
            baseValue = WarnValue;
        }
        else if (name.Equals(Error, StringComparison.OrdinalIgnoreCase))
        {
            baseValue = ErrorValue;
        }
        else
        {
            return false;
        }

        var offset = 0;
        if (sign >= 0 && !int.TryParse(text[sign..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out offset))
        {
            return false;
        }

        value = baseValue + offset;
        return true;
    }

    /// <summary>Renders a numeric slog level like Go's <c>slog.Level.String()</c>, e.g. 2 → <c>INFO+2</c>, −5 → <c>DEBUG-1</c>.</summary>
    /// <param name="slogLevel">Numeric slog level.</param>
    /// <returns>The level string.</returns>
    public static string FormatSlogLevel(int slogLevel)
    {
        static string Str(string name, int delta)
            => delta == 0 ? name : string.Create(CultureInfo.InvariantCulture, $"{name}{delta:+0;-0}");

        return slogLevel switch
        {
            < InfoValue => Str(Debug, slogLevel - DebugValue),
            < WarnValue => Str(Info, slogLevel - InfoValue),
            < ErrorValue => Str(Warn, slogLevel - WarnValue),
            _ => Str(Error, slogLevel - ErrorValue),
        };
    }
}
