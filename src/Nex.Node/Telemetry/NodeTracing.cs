using System.Diagnostics;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Node.Telemetry;

/// <summary>
/// The node's spans (spec §10.2: 0.2's names) and the W3C trace context they take from, and hand on in, NATS
/// headers. Nothing here allocates when nobody listens to <see cref="Source"/> and no caller sent a
/// <c>traceparent</c>: <see cref="ActivitySource.StartActivity(string, ActivityKind, ActivityContext, IEnumerable{KeyValuePair{string, object}}, IEnumerable{ActivityLink}, DateTimeOffset)"/>
/// returns null then, and the header helpers return at the first check.
/// Exporters are not set up here: the provider adds <see cref="TelemetryNames.ActivitySource"/>.
/// </summary>
internal static class NodeTracing
{
    /// <summary>The DEPLOY request (the other control spans are named where they are served).</summary>
    public const string DeploySpan = "Handle Deploy Request";

    /// <summary>The relay of one trigger message (a server span, parented to the caller's context).</summary>
    public const string TriggerSpan = "workload-trigger";

    /// <summary>The node → agent request of a trigger (a client span, child of <see cref="TriggerSpan"/>).</summary>
    public const string InternalRequestSpan = "internal request";

    /// <summary>One host-service RPC of a function.</summary>
    public const string HostServiceSpan = "host services call";

    /// <summary>The source of every node span.</summary>
    public static readonly ActivitySource Source = new(TelemetryNames.ActivitySource, NexVersion.Current);

    /// <summary>
    /// Starts a span for a NATS message the node serves: a child of the caller's <c>traceparent</c> (and its
    /// <c>baggage</c>), or a new root (0.2) when there is none, never a child of a span that happens to be ambient.
    /// Call it from an async method: it sets <see cref="Activity.Current"/>, which is then scoped to that method.
    /// </summary>
    /// <returns>The span, or null when nobody listens.</returns>
    public static Activity? StartServer(string name, NatsHeaders? headers, string subject, ActivityKind kind = ActivityKind.Server)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var parent = Extract(headers, out var baggage);
        if (parent == default)
        {
            Activity.Current = null;
        }

        var activity = Source.StartActivity(name, kind, parent);
        if (activity is null)
        {
            return null;
        }

        foreach (var (key, value) in baggage ?? [])
        {
            activity.AddBaggage(key, value);
        }

        activity.SetTag("messaging.system", "nats");
        activity.SetTag("messaging.destination.name", subject);
        return activity;
    }

    /// <summary>Marks a span failed: status Error with the cause, and <c>error.type</c>.</summary>
    public static void Fail(Activity? activity, string errorType, string cause)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("error.type", errorType);
        activity.SetStatus(ActivityStatusCode.Error, cause);
    }

    /// <summary>Marks the ambient span failed when it is one of the node's (a control handler's own span).</summary>
    public static void FailCurrent(string errorType, string cause)
    {
        if (Activity.Current is { } current && ReferenceEquals(current.Source, Source))
        {
            Fail(current, errorType, cause);
        }
    }

    /// <summary>Adds an event to the ambient span when it is <paramref name="spanName"/> of the node (0.2's deploy events).</summary>
    public static void AddEvent(string spanName, string eventName)
    {
        if (Activity.Current is { } current && ReferenceEquals(current.Source, Source) && current.OperationName == spanName)
        {
            current.AddEvent(new ActivityEvent(eventName));
        }
    }

    /// <summary>
    /// Puts the trace context on an outgoing message: <paramref name="span"/>'s when there is one, else the
    /// caller's headers unchanged (a node that does not trace still hands a caller's trace on). With neither,
    /// nothing is added and <paramref name="outgoing"/> stays as it is (null stays null).
    /// </summary>
    public static void Inject(Activity? span, NatsHeaders? incoming, ref NatsHeaders? outgoing)
    {
        if (span is not null)
        {
            outgoing ??= [];
            DistributedContextPropagator.Current.Inject(span, outgoing, static (carrier, key, value) =>
            {
                if (carrier is NatsHeaders headers && value is not null)
                {
                    headers[key] = value;
                }
            });
            return;
        }

        if (incoming is null || !incoming.ContainsKey(TraceHeaders.TraceParent))
        {
            return;
        }

        outgoing ??= [];
        foreach (var name in TraceHeaders.All)
        {
            if (incoming.TryGetValue(name, out var value))
            {
                outgoing[name] = value;
            }
        }
    }

    /// <summary>As <see cref="Inject(Activity?, NatsHeaders?, ref NatsHeaders?)"/>, for a host-service call's headers.</summary>
    public static void Inject(Activity? span, IReadOnlyDictionary<string, string> incoming, ref NatsHeaders? outgoing)
    {
        if (span is not null)
        {
            Inject(span, (NatsHeaders?)null, ref outgoing);
            return;
        }

        if (!incoming.ContainsKey(TraceHeaders.TraceParent))
        {
            return;
        }

        outgoing ??= [];
        foreach (var name in TraceHeaders.All)
        {
            if (incoming.TryGetValue(name, out var value))
            {
                outgoing[name] = value;
            }
        }
    }

    /// <summary>The <c>traceparent</c> a reply carries: the span's, else the caller's own; null when neither exists.</summary>
    public static string? ReplyTraceParent(Activity? span, NatsHeaders? incoming) =>
        span is not null ? span.Id
        : incoming is not null && incoming.TryGetValue(TraceHeaders.TraceParent, out var value) ? value.ToString()
        : null;

    private static ActivityContext Extract(NatsHeaders? headers, out IEnumerable<KeyValuePair<string, string?>>? baggage)
    {
        baggage = null;
        if (headers is null || !headers.ContainsKey(TraceHeaders.TraceParent))
        {
            return default;
        }

        var propagator = DistributedContextPropagator.Current;
        propagator.ExtractTraceIdAndState(headers, Getter, out var traceParent, out var traceState);
        if (!ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context))
        {
            // A malformed traceparent is ignored, as W3C says: the span starts a new trace.
            return default;
        }

        if (headers.ContainsKey(TraceHeaders.Baggage))
        {
            baggage = propagator.ExtractBaggage(headers, Getter);
        }

        return context;
    }

    private static void Getter(object? carrier, string name, out string? value, out IEnumerable<string>? values)
    {
        values = null;
        value = carrier is NatsHeaders headers && headers.TryGetValue(name, out var found) ? found.ToString() : null;
    }
}
