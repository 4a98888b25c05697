using System.Globalization;

namespace Nex.Client;

/// <summary>How <c>nex top</c> writes its figures: short, fixed units, and <see cref="Missing"/> for what nobody reported.</summary>
public static class TopFormat
{
    /// <summary>Shown for a value the node did not report (an en dash, as <c>nats top</c> and <c>htop</c> leave such cells).</summary>
    public const string Missing = "–";

    /// <summary>Bytes in binary units: <c>512 B</c>, <c>23.4 MiB</c>, <c>1.5 GiB</c>.</summary>
    /// <param name="bytes">The size, or null.</param>
    /// <returns>The text.</returns>
    public static string Bytes(long? bytes)
    {
        if (bytes is not { } b)
        {
            return Missing;
        }

        var (value, unit) = Scale(b);
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{b} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {"BKMGT"[unit]}iB");
    }

    /// <summary>Bytes in one-letter binary units, as <c>htop</c>'s memory columns: <c>512B</c>, <c>23.4M</c>, <c>1.5G</c>.</summary>
    /// <param name="bytes">The size, or null.</param>
    /// <returns>The text (at most 6 characters below a thousand TiB).</returns>
    public static string CompactBytes(long? bytes)
    {
        if (bytes is not { } b)
        {
            return Missing;
        }

        var (value, unit) = Scale(b);
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{b}B")
            : string.Create(CultureInfo.InvariantCulture, $"{value.ToString(value >= 100 ? "0" : "0.0", CultureInfo.InvariantCulture)}{"BKMGT"[unit]}");
    }

    // Divides by 1024 until below it (up to TiB): the value and the unit's index in "BKMGT".
    private static (double Value, int Unit) Scale(long bytes)
    {
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < 4)
        {
            value /= 1024;
            unit++;
        }

        return (value, unit);
    }

    /// <summary>Host memory as <c>used/total</c> in GiB: <c>3.1/15.6 GiB</c>.</summary>
    /// <param name="used">Bytes in use, or null.</param>
    /// <param name="total">Total bytes, or null.</param>
    /// <returns>The text.</returns>
    public static string UsedOfTotal(long? used, long? total) => used is { } u && total is { } t
        ? string.Create(CultureInfo.InvariantCulture, $"{u / 1073741824.0:0.0}/{t / 1073741824.0:0.0} GiB")
        : Missing;

    /// <summary>A latency given in microseconds: <c>850µs</c>, <c>12.3ms</c>, <c>2.50s</c>.</summary>
    /// <param name="micros">Microseconds, or null.</param>
    /// <returns>The text.</returns>
    public static string Micros(long? micros) => micros switch
    {
        null => Missing,
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{micros}µs"),
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{micros / 1000.0:0.#}ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{micros / 1_000_000.0:0.00}s"),
    };

    /// <summary>A rate with one decimal below 100 (<c>0.5</c>, <c>42.0</c>) and none above (<c>1234</c>).</summary>
    /// <param name="value">The rate, or null.</param>
    /// <returns>The text.</returns>
    public static string Rate(double? value) => value switch
    {
        null => Missing,
        < 100 => string.Create(CultureInfo.InvariantCulture, $"{value:0.0}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{value:0}"),
    };

    /// <summary>A count, or <see cref="Missing"/>.</summary>
    /// <param name="value">The count, or null.</param>
    /// <returns>The text.</returns>
    public static string Count(long? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : Missing;

    /// <summary>A duration as <c>45s</c>, <c>3m07s</c>, <c>2h05m</c>, <c>3d04h</c>: the two largest units, as <c>top</c> keeps its TIME column short.</summary>
    /// <param name="duration">The duration, or null.</param>
    /// <returns>The text.</returns>
    public static string Duration(TimeSpan? duration)
    {
        if (duration is not { } d)
        {
            return Missing;
        }

        d = d < TimeSpan.Zero ? TimeSpan.Zero : d;
        var c = CultureInfo.InvariantCulture;
        return d.TotalDays >= 1 ? string.Create(c, $"{(int)d.TotalDays}d{d.Hours:00}h")
            : d.TotalHours >= 1 ? string.Create(c, $"{(int)d.TotalHours}h{d.Minutes:00}m")
            : d.TotalMinutes >= 1 ? string.Create(c, $"{(int)d.TotalMinutes}m{d.Seconds:00}s")
            : string.Create(c, $"{(int)d.TotalSeconds}s");
    }

    /// <summary>
    /// Reads the NATS-style uptime the nodes send (<c>1y2d3h4m5s</c>, spec §1.11) back into a duration, so
    /// <see cref="Duration"/> can shorten it; null when it is not in that form (<c>unknown</c>).
    /// </summary>
    /// <param name="text">The node's text.</param>
    /// <returns>The duration, or null.</returns>
    public static TimeSpan? ParseUptime(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var total = TimeSpan.Zero;
        var number = 0L;
        var digits = 0;
        foreach (var ch in text)
        {
            if (char.IsAsciiDigit(ch))
            {
                number = (number * 10) + (ch - '0');
                if (++digits > 9)
                {
                    return null; // a number no uptime reaches
                }

                continue;
            }

            if (digits == 0)
            {
                return null; // a unit without a number
            }

            TimeSpan? part = ch switch
            {
                'y' => TimeSpan.FromDays(365 * number),
                'd' => TimeSpan.FromDays(number),
                'h' => TimeSpan.FromHours(number),
                'm' => TimeSpan.FromMinutes(number),
                's' => TimeSpan.FromSeconds(number),
                _ => null,
            };
            if (part is null)
            {
                return null;
            }

            total += part.Value;
            number = 0;
            digits = 0;
        }

        return digits == 0 ? total : null;
    }

    /// <summary>Cuts <paramref name="text"/> to <paramref name="width"/> characters, ending in <c>…</c> when cut.</summary>
    /// <param name="text">The text.</param>
    /// <param name="width">The most characters kept (at least 1).</param>
    /// <returns>The text, cut.</returns>
    public static string Truncate(string text, int width) =>
        text.Length <= width ? text : string.Concat(text.AsSpan(0, Math.Max(0, width - 1)), "…");

    /// <summary>The first 12 characters of a node id, as <c>nats</c> tools shorten server ids.</summary>
    /// <param name="id">The id.</param>
    /// <returns>The short id.</returns>
    public static string ShortId(string id) => id.Length > 12 ? id[..12] : id;
}
