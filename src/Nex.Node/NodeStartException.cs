namespace Nex.Node;

/// <summary>The node cannot start; the message is one line saying what is wrong and, where known, how to fix it.</summary>
public sealed class NodeStartException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NodeStartException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public NodeStartException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
