namespace Nex.Protocol;

/// <summary>
/// The W3C Trace Context and Baggage headers carried in NATS headers on the control, trigger and host-services
/// hops (spec §5.9, §6.1, §10.2), in lower case as 0.2 wrote them (NATS headers are case-sensitive).
/// </summary>
public static class TraceHeaders
{
    /// <summary>The trace id, the parent span id and the flags.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>Vendor trace state.</summary>
    public const string TraceState = "tracestate";

    /// <summary>Baggage (key=value pairs).</summary>
    public const string Baggage = "baggage";

    /// <summary>All three, in that order.</summary>
    public static IReadOnlyList<string> All { get; } = [TraceParent, TraceState, Baggage];
}
