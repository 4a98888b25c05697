namespace Nex.Protocol;

/// <summary>
/// How a failed function call is answered (a Nex for .NET difference from 0.2, which sent no reply and left the
/// caller waiting its whole timeout): at once, with an empty body and the NATS micro-service error headers,
/// as NATS services answer errors.
/// </summary>
public static class FunctionErrors
{
    /// <summary>Header with the cause, e.g. the exception's message.</summary>
    public const string Header = "Nats-Service-Error";

    /// <summary>Header with the code: <see cref="Exception"/>, <see cref="Timeout"/> or <see cref="OutOfMemory"/>.</summary>
    public const string CodeHeader = "Nats-Service-Error-Code";

    /// <summary>The function threw, trapped or exited non-zero.</summary>
    public const int Exception = 500;

    /// <summary>The function ran past its timeout.</summary>
    public const int Timeout = 408;

    /// <summary>The function ran out of its memory limit.</summary>
    public const int OutOfMemory = 507;
}
