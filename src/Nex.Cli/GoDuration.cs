using System.Globalization;
using System.Text.RegularExpressions;

namespace Nex.Cli;

/// <summary>Go-style durations (<c>2s</c>, <c>750ms</c>, <c>1m30s</c>), as 0.2's flags take them.</summary>
internal static partial class GoDuration
{
    public static TimeSpan Parse(string text, string what)
    {
        var matches = PartRegex().Matches(text.Trim());
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != text.Trim())
        {
            // A bare number is taken as seconds, as people type it.
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            throw new CliException($"invalid duration for {what}: '{text}' (examples: 2s, 750ms, 1m30s)");
        }

        var total = TimeSpan.Zero;
        foreach (Match m in matches)
        {
            var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "ns" => TimeSpan.FromTicks((long)(value / 100)),
                "us" or "µs" => TimeSpan.FromMicroseconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "s" => TimeSpan.FromSeconds(value),
                "m" => TimeSpan.FromMinutes(value),
                _ => TimeSpan.FromHours(value),
            };
        }

        return total;
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")]
    private static partial Regex PartRegex();
}
