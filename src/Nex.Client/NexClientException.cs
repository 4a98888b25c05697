namespace Nex.Client;

/// <summary>A control request failed; <see cref="Exception.Message"/> is one readable line
/// (the node's envelope <c>error</c> text when the node answered).</summary>
public sealed class NexClientException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NexClientException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public NexClientException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>True when the node answered with an error envelope (as opposed to no answer).</summary>
    public bool IsNodeError { get; init; }
}
