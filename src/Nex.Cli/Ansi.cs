namespace Nex.Cli;

/// <summary>The few ANSI colours the CLI's line output uses (the node's console, <c>nex logs</c>, <c>nex events</c>):
/// written straight into the line, because those lines go through writers Spectre does not own.</summary>
internal static class Ansi
{
    public const string Red = "\e[31m";
    public const string BoldRed = "\e[1;31m";
    public const string Yellow = "\e[33m";
    public const string Green = "\e[32m";
    public const string Grey = "\e[90m";
    public const string Reset = "\e[0m";

    /// <summary>Colours only on a terminal, and never when <c>NO_COLOR</c> is set (no-color.org: any non-empty value).</summary>
    public static bool UseColors(bool terminal, string? noColor) => terminal && string.IsNullOrEmpty(noColor);

    /// <summary><paramref name="text"/> in <paramref name="color"/>, or as it is when the colour is null.</summary>
    public static string Paint(string text, string? color) => color is null ? text : color + text + Reset;
}
