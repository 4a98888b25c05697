using System.Globalization;

namespace Nex.Protocol;

/// <summary>NATS-server style duration text used by ping, info and heartbeat (spec §1.11, §1.7).</summary>
public static class NexUptime
{
    /// <summary>
    /// Formats whole seconds as <c>XyXdXhXmXs</c>, dropping leading zero units: <c>45s</c>, <c>3m7s</c>,
    /// <c>2h0m5s</c>, <c>1d0h0m0s</c>, <c>1y2d3h4m5s</c>. Years are 365 days. Negative values format as <c>0s</c>.
    /// </summary>
    /// <param name="duration">The elapsed time.</param>
    /// <returns>The formatted uptime.</returns>
    public static string Format(TimeSpan duration)
    {
        var totalSeconds = Math.Max(0L, duration.Ticks / TimeSpan.TicksPerSecond);
        var totalMinutes = totalSeconds / 60;
        var totalHours = totalMinutes / 60;
        var totalDays = totalHours / 24;
        var years = totalDays / 365;
        var c = CultureInfo.InvariantCulture;

        if (years > 0)
        {
            return string.Create(c, $"{years}y{totalDays % 365}d{totalHours % 24}h{totalMinutes % 60}m{totalSeconds % 60}s");
        }

        if (totalDays > 0)
        {
            return string.Create(c, $"{totalDays}d{totalHours % 24}h{totalMinutes % 60}m{totalSeconds % 60}s");
        }

        if (totalHours > 0)
        {
            return string.Create(c, $"{totalHours}h{totalMinutes % 60}m{totalSeconds % 60}s");
        }

        if (totalMinutes > 0)
        {
            return string.Create(c, $"{totalMinutes}m{totalSeconds % 60}s");
        }

        return string.Create(c, $"{totalSeconds}s");
    }

    /// <summary>
    /// Formats cumulative function execution time (spec §1.7): <c>&lt;n&gt;ns</c> below 1000 ns,
    /// <c>&lt;n&gt;ms</c> below 1000 ms (whole milliseconds, so 5 µs is <c>0ms</c>), otherwise <see cref="Format"/>.
    /// </summary>
    /// <param name="runtime">The execution time.</param>
    /// <returns>The formatted runtime.</returns>
    public static string FormatRuntime(TimeSpan runtime)
    {
        var ticks = Math.Max(0L, runtime.Ticks);
        var nanos = ticks > long.MaxValue / TimeSpan.NanosecondsPerTick ? long.MaxValue : ticks * TimeSpan.NanosecondsPerTick;
        return FormatRuntimeNanos(nanos);
    }

    /// <summary>Like <see cref="FormatRuntime"/>, for a nanosecond count (e.g. summed <c>x-nex-runtime-ns</c> values).</summary>
    /// <param name="nanoseconds">The execution time in nanoseconds.</param>
    /// <returns>The formatted runtime.</returns>
    public static string FormatRuntimeNanos(long nanoseconds)
    {
        var nanos = Math.Max(0L, nanoseconds);
        if (nanos < 1000)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{nanos}ns");
        }

        var millis = nanos / 1_000_000;
        if (millis < 1000)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{millis}ms");
        }

        return Format(TimeSpan.FromTicks(nanos / TimeSpan.NanosecondsPerTick));
    }
}
