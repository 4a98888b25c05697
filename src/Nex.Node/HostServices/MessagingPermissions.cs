using System.Text.Json;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>
/// Which subjects a function may publish or send requests to through the messaging host service,
/// modelled on NATS user permissions: an empty <see cref="Allow"/> allows every subject not denied,
/// a non-empty one only the subjects it matches; <see cref="Deny"/> wins over it. System subjects
/// (<see cref="IsSystemSubject"/>) are always refused: the host-services connection is usually the
/// node's own, and through them a function could read or overwrite other workloads' buckets
/// (<c>$JS.API.DIRECT.GET.…</c>, <c>$KV.…</c>) or drive the node (<c>$NEX.…</c>). No setting lifts that;
/// a function reaches its own buckets through the kv and objectstore services.
/// </summary>
/// <param name="Allow">Patterns (wildcards allowed) a subject must match; empty means any.</param>
/// <param name="Deny">Patterns a subject must not match.</param>
internal sealed record MessagingPermissions(IReadOnlyList<string> Allow, IReadOnlyList<string> Deny)
{
    /// <summary>Config key of the allow list in <c>host_services.services.messaging.config</c>.</summary>
    public const string AllowKey = "allow";

    /// <summary>Config key of the deny list.</summary>
    public const string DenyKey = "deny";

    /// <summary>Everything but the system subjects.</summary>
    public static MessagingPermissions Default { get; } = new([], []);

    /// <summary>
    /// True for subjects a workload never reaches: any first token starting with <c>$</c> (<c>$JS</c>,
    /// <c>$KV</c>, <c>$O</c>, <c>$NEX</c>, <c>$SYS</c>, and whatever NATS adds there) and any starting with
    /// <c>_INBOX</c>, where other clients' replies travel (<see cref="ReservedSubjects"/>).
    /// </summary>
    public static bool IsSystemSubject(string subject) => ReservedSubjects.IsReserved(subject);

    /// <summary>Reads <c>allow</c> and <c>deny</c> from the service's config; an error is one line.</summary>
    public static MessagingPermissions Parse(JsonElement? config, out string? error)
    {
        error = null;
        var allow = ServiceSettings.StringList(config, AllowKey, out var allowError);
        var deny = ServiceSettings.StringList(config, DenyKey, out var denyError);
        error = allowError ?? denyError;
        if (error is not null)
        {
            return Default;
        }

        foreach (var subject in allow)
        {
            if (!SubjectMatcher.IsValidSubject(subject, allowWildcards: true))
            {
                error = $"'{subject}' in {AllowKey} is not a valid subject";
                return Default;
            }

            // An entry that can only ever match system subjects would be accepted and then do nothing.
            if (IsSystemSubject(subject))
            {
                error = $"'{subject}' in {AllowKey} names system subjects, which workloads never reach";
                return Default;
            }
        }

        foreach (var subject in deny)
        {
            if (!SubjectMatcher.IsValidSubject(subject, allowWildcards: true))
            {
                error = $"'{subject}' in {DenyKey} is not a valid subject";
                return Default;
            }
        }

        return new MessagingPermissions(allow, deny);
    }

    /// <summary>Why a function may not send to <paramref name="subject"/>, or null when it may.</summary>
    /// <returns>The refusal as (code, one-line message), or null.</returns>
    public (int Code, string Message)? Check(string subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (ReservedSubjects.TooLong("messaging: subject", subject) is { } tooLong)
        {
            return (HostServiceResponse.BadRequest, tooLong);
        }

        if (!SubjectMatcher.IsValidSubject(subject, allowWildcards: true))
        {
            return (HostServiceResponse.BadRequest, $"messaging: '{subject}' is not a valid subject");
        }

        // A message goes to one literal subject; a wildcard here would at best be delivered
        // unpredictably and at worst slip past a pattern meant to stop it.
        // Valid as a pattern but not as a literal subject: it has a wildcard token.
        if (!SubjectMatcher.IsValidSubject(subject, allowWildcards: false))
        {
            return (HostServiceResponse.BadRequest, $"messaging: subject '{subject}' must not contain wildcards");
        }

        var allowed = !IsSystemSubject(subject)
            && (Allow.Count == 0 || Allow.Any(p => SubjectMatcher.Matches(subject, p)))
            && !Deny.Any(p => SubjectMatcher.Matches(subject, p));
        return allowed ? null : (HostServiceResponse.Forbidden, $"messaging: subject '{subject}' is not allowed for workloads");
    }
}
