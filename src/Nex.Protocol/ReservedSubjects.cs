namespace Nex.Protocol;

/// <summary>What a trigger subject may be refused for, in the order <see cref="ReservedSubjects.CheckTrigger"/> checks.</summary>
public enum TriggerSubjectProblem
{
    /// <summary>Accepted.</summary>
    None,

    /// <summary>Not a NATS subject, or longer than <see cref="ReservedSubjects.MaxTriggerLength"/>.</summary>
    Invalid,

    /// <summary>In a reserved space (see <see cref="ReservedSubjects.IsReserved"/>), overlapping 0.2's
    /// mandatory deny list, or overlapping the node's <c>deny_trigger_subjects</c>.</summary>
    Denied,

    /// <summary>Its first token is a wildcard, so it would answer other workloads' subjects.</summary>
    Wildcard,
}

/// <summary>
/// The subjects no workload may listen or send on, written once for the node's deploy checks, the messaging
/// host service and the client's local checks: every subject whose first token starts with <c>$</c> (the NATS
/// system account, JetStream, KV and object store, Nex's own API) or with <c>_INBOX</c> (other clients'
/// replies, custom inbox prefixes such as <c>_INBOX_app</c> included).
/// </summary>
public static class ReservedSubjects
{
    /// <summary>
    /// Longest subject, KV key or object name a workload may make the node use: a trigger, a messaging subject,
    /// a host-service key or object name, an artifact's key. Far below nats-server's 4096-byte control line,
    /// which a longer one would exceed (the server then closes the node's whole connection); an object name
    /// travels base64-encoded (4/3 longer) inside a subject.
    /// </summary>
    public const int MaxLength = 1024;

    /// <summary>Longest trigger subject a node accepts: <see cref="MaxLength"/>.</summary>
    public const int MaxTriggerLength = MaxLength;

    /// <summary>The one-line refusal for a value longer than <see cref="MaxLength"/>, or null.</summary>
    /// <param name="what">What the value is (e.g. <c>key</c>).</param>
    /// <param name="value">The value.</param>
    /// <returns>The message, or null when it fits.</returns>
    public static string? TooLong(string what, string value) =>
        value.Length > MaxLength ? $"{what} '{SubjectToken.Shorten(value)}' is longer than {MaxLength} characters" : null;

    /// <summary>0.2's mandatory trigger deny list; wildcard triggers such as <c>*.foo</c> or <c>&gt;</c> overlap it.</summary>
    public static IReadOnlyList<string> MandatoryDenied { get; } = ["$SYS.>", "$JS.>", "$NEX.>"];

    /// <summary>True when the subject's first token is reserved (starts with <c>$</c> or <c>_INBOX</c>).</summary>
    /// <param name="subject">A subject or pattern.</param>
    /// <returns>Whether it lies in a reserved space.</returns>
    public static bool IsReserved(string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var dot = subject.IndexOf('.', StringComparison.Ordinal);
        var first = dot < 0 ? subject : subject[..dot];
        return first.StartsWith('$') || first.StartsWith("_INBOX", StringComparison.Ordinal);
    }

    /// <summary>Why a trigger subject is refused, or <see cref="TriggerSubjectProblem.None"/>.</summary>
    /// <param name="trigger">The trigger subject.</param>
    /// <param name="denied">Further denied subjects (the node's <c>deny_trigger_subjects</c>), or empty.</param>
    /// <param name="allowWildcards">Whether a first-token wildcard (only <c>*</c> alone gets that far) is allowed.</param>
    /// <returns>The first problem found.</returns>
    public static TriggerSubjectProblem CheckTrigger(string trigger, IReadOnlyList<string> denied, bool allowWildcards)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        ArgumentNullException.ThrowIfNull(denied);
        if (!SubjectMatcher.IsValidSubject(trigger, allowWildcards: true) || trigger.Length > MaxTriggerLength)
        {
            return TriggerSubjectProblem.Invalid;
        }

        if (IsReserved(trigger) || denied.Concat(MandatoryDenied).Any(d => SubjectMatcher.Collides(trigger, d)))
        {
            return TriggerSubjectProblem.Denied;
        }

        var dot = trigger.IndexOf('.', StringComparison.Ordinal);
        var first = dot < 0 ? trigger : trigger[..dot];
        return first is "*" or ">" && !allowWildcards ? TriggerSubjectProblem.Wildcard : TriggerSubjectProblem.None;
    }
}
