using System.Diagnostics;
using NATS.Client.Core;
using Nex.Node.Telemetry;
using Nex.Node.Tests.Functions;
using Xunit;

namespace Nex.Node.Tests.Telemetry;

/// <summary>
/// <see cref="NodeTracing"/>'s header rules: nothing is added without a span or a caller's context, a caller's
/// context passes through unchanged when there is no span, and a malformed <c>traceparent</c> starts a new trace.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class NodeTracingTests
{
    private const string Parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Fact]
    public void WithoutASpanOrACallersContext_NothingIsAdded()
    {
        NatsHeaders? none = null;
        NodeTracing.Inject(null, (NatsHeaders?)null, ref none);
        NodeTracing.Inject(null, new NatsHeaders { ["x-nex-trigger-subject"] = "a.b", ["baggage"] = "k=v" }, ref none);
        NodeTracing.Inject(null, new Dictionary<string, string> { ["x-subject"] = "a.b" }, ref none);
        Assert.Null(none);

        var existing = new NatsHeaders { ["x-nex-trigger-subject"] = "a.b" };
        NatsHeaders? outgoing = existing;
        NodeTracing.Inject(null, new NatsHeaders { ["other"] = "1" }, ref outgoing);
        Assert.Same(existing, outgoing);
        Assert.Single(existing);
        Assert.Null(NodeTracing.ReplyTraceParent(null, null));
    }

    [Fact]
    public void WithoutASpan_TheCallersContextPassesThroughUnchanged()
    {
        var incoming = new NatsHeaders { ["traceparent"] = Parent, ["tracestate"] = "k=v", ["baggage"] = "tenant=acme", ["x-other"] = "no" };
        NatsHeaders? outgoing = new() { ["x-nex-trigger-subject"] = "a.b" };
        NodeTracing.Inject(null, incoming, ref outgoing);
        Assert.Equal(["baggage", "traceparent", "tracestate", "x-nex-trigger-subject"], outgoing!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(Parent, outgoing["traceparent"].ToString());
        Assert.Equal(Parent, NodeTracing.ReplyTraceParent(null, incoming));

        NatsHeaders? messaging = null;
        NodeTracing.Inject(null, new Dictionary<string, string> { ["traceparent"] = Parent, ["x-subject"] = "a.b" }, ref messaging);
        Assert.Equal(Parent, Assert.Single(messaging!).Value.ToString());
    }

    [Fact]
    public void AMalformedTraceparent_StartsANewTrace_AndASpanHandsOnItsOwnContext()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == TelemetryNames.ActivitySource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var outer = new Activity("ambient").SetIdFormat(ActivityIdFormat.W3C).Start();
        try
        {
            using var span = NodeTracing.StartServer(NodeTracing.TriggerSpan, new NatsHeaders { ["traceparent"] = "00-not-a-trace-01" }, "a.b");
            Assert.NotNull(span);
            Assert.Equal(default, span.ParentSpanId);
            Assert.NotEqual(outer.TraceId, span.TraceId);

            NatsHeaders? outgoing = null;
            NodeTracing.Inject(span, new NatsHeaders { ["traceparent"] = Parent }, ref outgoing);
            Assert.Equal(span.Id, outgoing!["traceparent"].ToString());
            Assert.Equal(span.Id, NodeTracing.ReplyTraceParent(span, null));
        }
        finally
        {
            outer.Stop();
        }
    }
}
