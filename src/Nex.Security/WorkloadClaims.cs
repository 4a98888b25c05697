namespace Nex.Security;

/// <summary>
/// The claims of a decoded (signature-verified) workload JWT (spec §2.1).
/// </summary>
/// <param name="Jti">The unique token ID (<c>jti</c>); empty when absent.</param>
/// <param name="Iat">Issued-at, Unix seconds (<c>iat</c>); 0 when absent.</param>
/// <param name="Iss">The issuer's public NKey (<c>iss</c>), which signed the token.</param>
/// <param name="Sub">The subject (<c>sub</c>): the workload name; empty when absent.</param>
/// <param name="Hash">The custom <c>nats.hash</c> claim, or null when absent (stop tokens) or not a string.</param>
/// <param name="Exp">Expiry, Unix seconds (<c>exp</c>), or null when absent.</param>
/// <param name="Nbf">Not-before, Unix seconds (<c>nbf</c>), or null when absent.</param>
public sealed record WorkloadClaims(
    string Jti,
    long Iat,
    string Iss,
    string Sub,
    string? Hash = null,
    long? Exp = null,
    long? Nbf = null)
{
    /// <summary>Creates empty claims, for use with object initialisers.</summary>
    public WorkloadClaims()
        : this(string.Empty, 0, string.Empty, string.Empty)
    {
    }
}
