namespace Nex.Security;

/// <summary>
/// "Only the starter can stop" (spec §2.4): compares the claims of a stop request with those of the
/// original deploy. Both must already be decoded and signature-verified.
/// </summary>
public static class StopRule
{
    /// <summary>Rejection when the stop token reuses the deploy token's <c>jti</c> or <c>iat</c> (anti-replay).</summary>
    public const string ClonedClaims =
        "stop claims appear to be cloned or captured from the original start claims. Rejecting for security reasons";

    /// <summary>Rejection when the stop token names another workload.</summary>
    public const string SubjectMismatch = "stop claims subject does not match original start claims subject";

    /// <summary>Rejection when the stop token was issued by another key.</summary>
    public const string IssuerMismatch =
        "the only entity allowed to terminate a workload is the issuer that originally started it";

    /// <summary>Rejection when a stop token's <c>jti</c> already stopped a workload (a Nex for .NET addition).</summary>
    public const string ReusedClaims =
        "stop claims were already used to stop a workload. Rejecting for security reasons";

    /// <summary>Oldest stop token accepted: its <c>iat</c> at most this long before the node's clock.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    /// <summary>Clock skew allowed the other way: an <c>iat</c> at most this far after the node's clock.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(1);

    /// <summary>
    /// <see cref="Check(WorkloadClaims, WorkloadClaims)"/>, then (a Nex for .NET addition; 0.2 had no window,
    /// so a captured token stopped any later deployment of the name) freshness: the stop's <c>iat</c> must
    /// lie within <see cref="MaxAge"/> before <paramref name="now"/> and <see cref="MaxClockSkew"/> after it.
    /// </summary>
    /// <param name="original">The claims of the deploy that started the workload.</param>
    /// <param name="stop">The claims of the stop request.</param>
    /// <param name="now">The node's clock.</param>
    /// <returns>Null when the stop is allowed; otherwise the reason, one line.</returns>
    public static string? Check(WorkloadClaims original, WorkloadClaims stop, DateTimeOffset now)
    {
        if (Check(original, stop) is { } reason)
        {
            return reason;
        }

        var age = now.ToUnixTimeSeconds() - stop.Iat;
        if (age > (long)MaxAge.TotalSeconds)
        {
            return $"stop claims were issued {age} seconds ago; stop tokens older than {(long)MaxAge.TotalSeconds} seconds are refused. Rejecting for security reasons";
        }

        if (-age > (long)MaxClockSkew.TotalSeconds)
        {
            return $"stop claims are dated {-age} seconds ahead of the node's clock; at most {(long)MaxClockSkew.TotalSeconds} seconds of clock skew are allowed";
        }

        return null;
    }

    /// <summary>
    /// Checks, in order: equal <c>jti</c> or equal <c>iat</c> (so a stop signed in the same second as the
    /// deploy is rejected), then a different <c>sub</c>, then a different <c>iss</c>.
    /// </summary>
    /// <param name="original">The claims of the deploy that started the workload.</param>
    /// <param name="stop">The claims of the stop request.</param>
    /// <returns>Null when the stop is allowed; otherwise <see cref="ClonedClaims"/>,
    /// <see cref="SubjectMismatch"/> or <see cref="IssuerMismatch"/>.</returns>
    public static string? Check(WorkloadClaims original, WorkloadClaims stop)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(stop);
        if (string.Equals(stop.Jti, original.Jti, StringComparison.Ordinal) || stop.Iat == original.Iat)
        {
            return ClonedClaims;
        }

        if (!string.Equals(stop.Sub, original.Sub, StringComparison.Ordinal))
        {
            return SubjectMismatch;
        }

        if (!string.Equals(stop.Iss, original.Iss, StringComparison.Ordinal))
        {
            return IssuerMismatch;
        }

        return null;
    }
}
