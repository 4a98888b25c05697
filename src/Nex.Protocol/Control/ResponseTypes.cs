namespace Nex.Protocol;

/// <summary>Envelope <c>type</c> values for control-plane replies (spec §1.1).</summary>
public static class ResponseTypes
{
    /// <summary>Auction reply.</summary>
    public const string Auction = "io.nats.nex.v1.auction_response";

    /// <summary>Info reply.</summary>
    public const string Info = "io.nats.nex.v1.info_response";

    /// <summary>Ping reply (also used for workload ping).</summary>
    public const string Ping = "io.nats.nex.v1.ping_response";

    /// <summary>Deploy (run) reply.</summary>
    public const string Run = "io.nats.nex.v1.run_response";

    /// <summary>Stop reply.</summary>
    public const string Stop = "io.nats.nex.v1.stop_response";

    /// <summary>Lame duck reply.</summary>
    public const string LameDuck = "io.nats.nex.v1.lameduck_response";
}
