namespace Nex.Security;

/// <summary>
/// Raised by <c>Nex.Security</c> when a key, seed, token or encrypted payload is invalid.
/// The <see cref="Exception.Message"/> is the user-facing text (never contains secret material).
/// </summary>
public sealed class NexSecurityException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public NexSecurityException()
        : base("security check failed")
    {
    }

    /// <summary>Creates an exception with the given user-facing message.</summary>
    /// <param name="message">The user-facing message.</param>
    public NexSecurityException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given user-facing message and underlying cause.</summary>
    /// <param name="message">The user-facing message.</param>
    /// <param name="innerException">The underlying cause.</param>
    public NexSecurityException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
