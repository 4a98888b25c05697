namespace Nex.Node.InternalNats;

/// <summary>Where the internal server stands.</summary>
internal enum InternalNatsState
{
    /// <summary>Running and accepting agents.</summary>
    Up,

    /// <summary>It died; a restart on the same port is under way.</summary>
    Restarting,

    /// <summary>A restart failed, or it keeps dying: the node is unhealthy until a later attempt succeeds.</summary>
    Failed,
}

/// <summary>The internal server's state, why, and since when.</summary>
/// <param name="State">The state.</param>
/// <param name="Reason">One line saying what is wrong (null when up).</param>
/// <param name="Since">When the state began (for <see cref="InternalNatsState.Up"/>: when the server last started).</param>
internal sealed record InternalNatsHealth(InternalNatsState State, string? Reason, DateTimeOffset Since)
{
    /// <summary>Whether the server is up.</summary>
    public bool IsUp => State == InternalNatsState.Up;

    /// <summary>Whether it has been up for at least <paramref name="duration"/>: long enough for agents to reconnect after a restart.</summary>
    public bool UpFor(TimeSpan duration, DateTimeOffset now) => IsUp && now - Since >= duration;
}
