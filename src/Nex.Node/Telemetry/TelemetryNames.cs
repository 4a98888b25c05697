namespace Nex.Node.Telemetry;

/// <summary>
/// The names the node's signals are published under: 0.2's meter name (spec §10.1), and the same name for the
/// node's spans, so a collector configured for Nex 0.2 finds both.
/// </summary>
internal static class TelemetryNames
{
    /// <summary>The meter every node instrument belongs to.</summary>
    public const string Meter = "nex-node";

    /// <summary>The activity source of the node's spans (control requests, triggers, host-service calls).</summary>
    public const string ActivitySource = "nex-node";

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public const string ServiceName = "nex-node";
}
