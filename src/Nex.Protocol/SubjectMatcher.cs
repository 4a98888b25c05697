namespace Nex.Protocol;

/// <summary>NATS subject validation and wildcard-aware overlap, mirroring nats-server.</summary>
public static class SubjectMatcher
{
    private const char Pwc = '*';
    private const char Fwc = '>';

    /// <summary>
    /// Validates a subject like nats-server: non-empty tokens separated by <c>.</c>, no whitespace, and <c>&gt;</c>
    /// only as the last token. With <paramref name="allowWildcards"/> false, <c>*</c> and <c>&gt;</c> tokens are rejected.
    /// </summary>
    /// <param name="s">The subject.</param>
    /// <param name="allowWildcards">Whether wildcard tokens are allowed.</param>
    /// <returns>True when valid.</returns>
    public static bool IsValidSubject(string? s, bool allowWildcards)
    {
        if (string.IsNullOrEmpty(s))
        {
            return false;
        }

        var sawFullWildcard = false;
        foreach (var token in s.Split('.'))
        {
            if (token.Length == 0 || sawFullWildcard)
            {
                return false;
            }

            if (token.AsSpan().ContainsAny(" \t\n\f\r"))
            {
                return false;
            }

            if (token.Length == 1 && token[0] is Pwc or Fwc)
            {
                if (!allowWildcards)
                {
                    return false;
                }

                sawFullWildcard = token[0] == Fwc;
            }
        }

        return true;
    }

    /// <summary>
    /// True when some subject could match both <paramref name="a"/> and <paramref name="b"/> (nats-server
    /// <c>SubjectsCollide</c>): <c>*</c> matches exactly one token, <c>&gt;</c> one or more trailing tokens.
    /// E.g. <c>$SYS.this.is.a.test</c> collides with <c>$SYS.&gt;</c>, <c>foo.&gt;</c> with <c>foo.*</c>, but
    /// <c>foo</c> does not collide with <c>foo.&gt;</c>.
    /// </summary>
    /// <param name="a">First subject (may contain wildcards).</param>
    /// <param name="b">Second subject (may contain wildcards).</param>
    /// <returns>Whether the subjects overlap.</returns>
    public static bool Collides(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a == b)
        {
            return true;
        }

        var tokensA = a.Split('.');
        var tokensB = b.Split('.');
        var (pwcA, fwcA) = AnalyzeTokens(tokensA);
        var (pwcB, fwcB) = AnalyzeTokens(tokensB);
        var literalA = !(pwcA || fwcA);
        var literalB = !(pwcB || fwcB);

        if (literalA && literalB)
        {
            return false;
        }

        if (literalA)
        {
            return IsSubsetMatch(tokensA, tokensB);
        }

        if (literalB)
        {
            return IsSubsetMatch(tokensB, tokensA);
        }

        // Both have wildcards. With partial wildcards only, the lengths must match.
        if (!fwcA && !fwcB && tokensA.Length != tokensB.Length)
        {
            return false;
        }

        if (tokensA.Length != tokensB.Length)
        {
            // The shorter one must end with a full wildcard to collide.
            if ((tokensA.Length < tokensB.Length && !fwcA) || (tokensB.Length < tokensA.Length && !fwcB))
            {
                return false;
            }
        }

        var stop = Math.Min(tokensA.Length, tokensB.Length);
        for (var i = 0; i < stop; i++)
        {
            if (!TokensCanMatch(tokensA[i], tokensB[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True when the literal <paramref name="subject"/> is matched by <paramref name="pattern"/>, as a
    /// nats-server permission or subscription would match it: <c>*</c> matches one token, <c>&gt;</c> one
    /// or more trailing tokens, anything else only itself. A subject that contains wildcards is never a
    /// match (a caller that sends to subjects validates them as literals first).
    /// </summary>
    /// <param name="subject">A literal subject.</param>
    /// <param name="pattern">A subject that may contain wildcards.</param>
    /// <returns>Whether the pattern covers the subject.</returns>
    public static bool Matches(string subject, string pattern)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(pattern);

        // Token by token without splitting: this runs on every host-service message.
        ReadOnlySpan<char> rest = subject, test = pattern;
        while (true)
        {
            var token = NextToken(ref rest, out var subjectDone);
            var want = NextToken(ref test, out var patternDone);
            if (token is "*" or ">")
            {
                return false;
            }

            if (want is ">")
            {
                // '>' must be last; the subject's remaining tokens must be literal too.
                return patternDone && !ContainsWildcardToken(rest);
            }

            if (!(want is "*" || token.SequenceEqual(want)))
            {
                return false;
            }

            if (subjectDone || patternDone)
            {
                return subjectDone && patternDone;
            }
        }
    }

    private static ReadOnlySpan<char> NextToken(ref ReadOnlySpan<char> rest, out bool last)
    {
        var dot = rest.IndexOf('.');
        last = dot < 0;
        var token = last ? rest : rest[..dot];
        rest = last ? [] : rest[(dot + 1)..];
        return token;
    }

    private static bool ContainsWildcardToken(ReadOnlySpan<char> rest)
    {
        while (!rest.IsEmpty)
        {
            if (NextToken(ref rest, out _) is "*" or ">")
            {
                return true;
            }
        }

        return false;
    }

    private static (bool Partial, bool Full) AnalyzeTokens(string[] tokens)
    {
        bool partial = false, full = false;
        foreach (var token in tokens)
        {
            if (token.Length != 1)
            {
                continue;
            }

            if (token[0] == Pwc)
            {
                partial = true;
            }
            else if (token[0] == Fwc)
            {
                full = true;
            }
        }

        return (partial, full);
    }

    private static bool TokensCanMatch(string t1, string t2)
    {
        if (t1.Length == 0 || t2.Length == 0)
        {
            return false;
        }

        // nats-server only looks at the first character here.
        if (t1[0] is Pwc or Fwc || t2[0] is Pwc or Fwc)
        {
            return true;
        }

        return t1 == t2;
    }

    // nats-server isSubsetMatchTokenized: does the literal subject (tokens) fall within the wildcard subject (test)?
    private static bool IsSubsetMatch(string[] tokens, string[] test)
    {
        for (var i = 0; i < test.Length; i++)
        {
            if (i >= tokens.Length)
            {
                return false;
            }

            var t2 = test[i];
            if (t2.Length == 0)
            {
                return false;
            }

            if (t2[0] == Fwc && t2.Length == 1)
            {
                return true;
            }

            var t1 = tokens[i];
            if (t1.Length == 0 || (t1[0] == Fwc && t1.Length == 1))
            {
                return false;
            }

            if (t1[0] == Pwc && t1.Length == 1)
            {
                if (!(t2[0] == Pwc && t2.Length == 1))
                {
                    return false;
                }

                continue;
            }

            if (t2[0] != Pwc && t1 != t2)
            {
                return false;
            }
        }

        return tokens.Length == test.Length;
    }
}
