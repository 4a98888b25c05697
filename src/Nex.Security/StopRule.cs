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
