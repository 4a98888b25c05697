namespace Nex.Protocol;

/// <summary>
/// NATS headers a node puts on its <c>$NEX.logs.…</c> lines (an addition to 0.2, whose lines carry neither;
/// 0.2 readers ignore headers). The subject names the node by id only, and the body has no time.
/// </summary>
public static class LogHeaders
{
    /// <summary>The node's <c>node_name</c> tag.</summary>
    public const string NodeName = "Nex-Node-Name";

    /// <summary>When the node published the line, RFC 3339 in UTC with fractional seconds.</summary>
    public const string Time = "Nex-Time";

    /// <summary>The <see cref="Time"/> header's value for <paramref name="time"/>.</summary>
    /// <param name="time">Publish time.</param>
    /// <returns>RFC 3339 in UTC, as the JSON wire writes times.</returns>
    public static string FormatTime(DateTimeOffset time) => Rfc3339.Format(time);

    /// <summary>Reads a <see cref="Time"/> header.</summary>
    /// <param name="text">The header value.</param>
    /// <param name="time">The time.</param>
    /// <returns>Whether it was an RFC 3339 time.</returns>
    public static bool TryParseTime(string? text, out DateTimeOffset time)
    {
        time = default;
        return !string.IsNullOrEmpty(text) && Rfc3339.TryParse(text, out time);
    }
}
