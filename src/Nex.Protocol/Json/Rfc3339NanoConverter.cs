using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// Reads and writes <see cref="DateTimeOffset"/> like Go's <c>time.Time</c> JSON (RFC 3339 with nanoseconds).
/// Writes UTC with a trailing <c>Z</c> and the fraction trimmed of trailing zeros (Go's <c>RFC3339Nano</c>, at
/// .NET's 100 ns resolution). Reads any RFC 3339 timestamp; fractions beyond 7 digits are truncated.
/// A JSON <c>null</c> leaves the zero value, as in Go.
/// </summary>
internal sealed class Rfc3339NanoConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return default;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"Cannot unmarshal {reader.TokenType} into a timestamp; expected an RFC 3339 string.");
        }

        var text = reader.GetString() ?? string.Empty;
        if (!Rfc3339.TryParse(text, out var value))
        {
            throw new JsonException($"Timestamp \"{text}\" is not a valid RFC 3339 time.");
        }

        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
        => writer.WriteStringValue(Rfc3339.Format(value));
}

/// <summary>RFC 3339 formatting and parsing helpers (Go <c>time.RFC3339Nano</c> compatible).</summary>
internal static class Rfc3339
{
    /// <summary>Formats as UTC <c>yyyy-MM-ddTHH:mm:ss[.fffffff]Z</c> with trailing fraction zeros removed.</summary>
    public static string Format(DateTimeOffset value)
    {
        var utc = value.UtcDateTime;
        var seconds = utc.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture);
        var fraction = (int)(utc.Ticks % TimeSpan.TicksPerSecond);
        if (fraction == 0)
        {
            return seconds + "Z";
        }

        var digits = fraction.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0');
        return seconds + "." + digits + "Z";
    }

    /// <summary>Parses <c>YYYY-MM-DD(T|t)HH:MM:SS[.digits](Z|z|±HH:MM)</c>.</summary>
    public static bool TryParse(string text, out DateTimeOffset value)
    {
        value = default;
        var s = text.AsSpan();
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        if (!TryDigits(s[..4], out var year) || !TryDigits(s.Slice(5, 2), out var month) || !TryDigits(s.Slice(8, 2), out var day)
            || !TryDigits(s.Slice(11, 2), out var hour) || !TryDigits(s.Slice(14, 2), out var minute) || !TryDigits(s.Slice(17, 2), out var second))
        {
            return false;
        }

        var rest = s[19..];
        long fractionTicks = 0;
        if (rest.Length > 0 && rest[0] == '.')
        {
            var end = 1;
            while (end < rest.Length && char.IsAsciiDigit(rest[end]))
            {
                end++;
            }

            if (end == 1)
            {
                return false;
            }

            var digits = rest[1..end];
            long scale = TimeSpan.TicksPerSecond;
            for (var i = 0; i < digits.Length && i < 7; i++)
            {
                scale /= 10;
                fractionTicks += (digits[i] - '0') * scale;
            }

            rest = rest[end..];
        }

        TimeSpan offset;
        if (rest.Length == 1 && (rest[0] == 'Z' || rest[0] == 'z'))
        {
            offset = TimeSpan.Zero;
        }
        else if (rest.Length == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':'
            && TryDigits(rest.Slice(1, 2), out var offHours) && TryDigits(rest.Slice(4, 2), out var offMinutes)
            && offHours < 24 && offMinutes < 60)
        {
            offset = new TimeSpan(offHours, offMinutes, 0);
            if (rest[0] == '-')
            {
                offset = offset.Negate();
            }
        }
        else
        {
            return false;
        }

        if (month is < 1 or > 12 || day < 1 || year < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        try
        {
            value = new DateTimeOffset(year, month, day, hour, minute, second, offset).AddTicks(fractionTicks);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static bool TryDigits(ReadOnlySpan<char> span, out int result)
    {
        result = 0;
        foreach (var c in span)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            result = (result * 10) + (c - '0');
        }

        return true;
    }
}
