using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Agent.HostServices;

/// <summary>
/// The W3C trace context of one trigger (spec §5.9, §6.1): the <c>traceparent</c>, <c>tracestate</c> and
/// <c>baggage</c> headers the node sent with it, carried as they are into every host-service request the
/// function makes during that call, so the node's host-service spans are children of the trigger's. The agent
/// has no tracing SDK: it only copies headers. A trigger without <c>traceparent</c> has none, and nothing is added.
/// </summary>
internal sealed class TraceContext
{
    // The agent sets it around one trigger; the providers take it into the call's own state (a V8 invocation,
    // a WASM call) when the call is queued, since calls run on the engines' own threads.
    private static readonly AsyncLocal<TraceContext?> Ambient = new();

    private TraceContext(string traceParent, string? traceState, string? baggage)
    {
        TraceParent = traceParent;
        TraceState = traceState;
        Baggage = baggage;
    }

    /// <summary>The context of the trigger running in this async flow (null: none).</summary>
    public static TraceContext? Current
    {
        get => Ambient.Value;
        set => Ambient.Value = value;
    }

    /// <summary>The <c>traceparent</c> value.</summary>
    public string TraceParent { get; }

    /// <summary>The <c>tracestate</c> value, when sent.</summary>
    public string? TraceState { get; }

    /// <summary>The <c>baggage</c> value, when sent.</summary>
    public string? Baggage { get; }

    /// <summary>The context in a trigger's headers; null (nothing allocated) when there is no <c>traceparent</c>.</summary>
    public static TraceContext? From(NatsHeaders? headers)
    {
        if (headers is null || !headers.TryGetValue(TraceHeaders.TraceParent, out var parent) || parent.Count == 0)
        {
            return null;
        }

        return new TraceContext(
            parent.ToString(),
            headers.TryGetValue(TraceHeaders.TraceState, out var state) ? state.ToString() : null,
            headers.TryGetValue(TraceHeaders.Baggage, out var baggage) ? baggage.ToString() : null);
    }

    /// <summary>Writes the headers, replacing any the function set itself (the node's span tree follows the trigger).</summary>
    public void CopyTo(NatsHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        headers[TraceHeaders.TraceParent] = TraceParent;
        if (TraceState is not null)
        {
            headers[TraceHeaders.TraceState] = TraceState;
        }
        else
        {
            headers.Remove(TraceHeaders.TraceState);
        }

        if (Baggage is not null)
        {
            headers[TraceHeaders.Baggage] = Baggage;
        }
        else
        {
            headers.Remove(TraceHeaders.Baggage);
        }
    }
}
