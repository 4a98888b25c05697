namespace Nex.Nats;

/// <summary>
/// A NATS connection could not be made (a malformed server URL, a server that does not answer or refuses us),
/// or what is set up on it was refused. <see cref="Exception.Message"/> is one readable line saying where and why.
/// </summary>
public sealed class NatsConnectException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">One readable line.</param>
    public NatsConnectException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">One readable line.</param>
    /// <param name="inner">The cause.</param>
    public NatsConnectException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
