namespace Nex.Protocol;

/// <summary>
/// What may stand in one token of a subject we build: namespaces, workload names, ids. Every builder in
/// <see cref="NexSubjects"/> and <see cref="AgentSubjects"/> checks its tokens here, so a long or
/// dotted value can never turn into a subject nats-server refuses (its control line is 4096 bytes by
/// default: a longer subject makes the server drop the whole connection).
/// </summary>
public static class SubjectToken
{
    /// <summary>
    /// Longest namespace, workload name or other token (DNS-label-like). With it, the longest subject
    /// we build (<c>$NEX.logs.&lt;ns&gt;.&lt;node&gt;.&lt;name&gt;.&lt;id&gt;</c>, about 230 bytes) and the
    /// host-service bucket names (<c>hs_&lt;ns&gt;_&lt;name&gt;_obj</c>, under JetStream's 255) fit easily.
    /// </summary>
    public const int MaxLength = 64;

    /// <summary>The rule for namespaces and workload names, as shown in error messages.</summary>
    public const string NamePattern = "^[a-zA-Z0-9_-]{1,64}$";

    /// <summary>
    /// True when <paramref name="token"/> is one NATS subject token (non-empty; no <c>.</c>, whitespace,
    /// <c>*</c> or <c>&gt;</c>) of at most <paramref name="maxLength"/> characters.
    /// </summary>
    /// <param name="token">The candidate token.</param>
    /// <param name="maxLength">The length limit.</param>
    /// <returns>Whether it is a valid literal token.</returns>
    public static bool IsValid(string? token, int maxLength = MaxLength)
    {
        if (string.IsNullOrEmpty(token) || token.Length > maxLength)
        {
            return false;
        }

        foreach (var c in token)
        {
            if (c is '.' or '*' or '>' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True when <paramref name="name"/> is a valid namespace or workload name: <see cref="NamePattern"/>
    /// (ASCII letters, digits, <c>_</c> and <c>-</c>). That is a subject token, and also safe inside
    /// JetStream bucket names (<c>hs_&lt;ns&gt;_&lt;name&gt;_kv</c>), which allow nothing else.
    /// </summary>
    /// <param name="name">The candidate.</param>
    /// <returns>Whether it is acceptable.</returns>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_' && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Why a namespace is refused, in one line, or null when it is valid.</summary>
    /// <param name="ns">The namespace.</param>
    /// <returns>The reason, or null.</returns>
    public static string? NamespaceProblem(string? ns) => IsValidName(ns)
        ? null
        : $"namespace '{Shorten(ns)}' does not match requirements ({NamePattern})";

    /// <summary>A value as it may be echoed in one line of error: at most <see cref="MaxLength"/> characters,
    /// then how long it really was; control characters (a newline would break the line) as <c>\uXXXX</c>.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value, shortened when long.</returns>
    public static string Shorten(string? value) => value is null ? ""
        : value.Length <= MaxLength ? Escape(value)
        : $"{Escape(value[..MaxLength])}…({value.Length} characters)";

    private static string Escape(string value)
    {
        if (!value.Any(char.IsControl))
        {
            return value;
        }

        var text = new System.Text.StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            text.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        return text.ToString();
    }

    /// <summary>Returns <paramref name="token"/> when it may be used as a subject token, else throws.</summary>
    /// <param name="token">The token.</param>
    /// <param name="what">What the token is, for the message (e.g. <c>namespace</c>).</param>
    /// <param name="allowWildcard">Whether <c>*</c> alone is accepted (subscription patterns).</param>
    /// <returns>The token.</returns>
    /// <exception cref="ArgumentException">It is not a valid token.</exception>
    internal static string Require(string token, string what, bool allowWildcard = false)
    {
        if (IsValid(token) || (allowWildcard && token == "*"))
        {
            return token;
        }

        throw new ArgumentException(
            $"{what} '{Shorten(token)}' is not a valid subject token (1-{MaxLength} characters, no '.', '*', '>' or whitespace)",
            what);
    }
}
