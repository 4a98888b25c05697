namespace Nex.Processes;

/// <summary>
/// Runs .NET's socket completions on the socket event thread that saw them, instead of handing each one to
/// the thread pool first.
/// </summary>
/// <remarks>
/// A function call crosses the node and the agent, and every NATS read in them cost two thread wake-ups: the
/// event thread, then a thread-pool worker to run NATS.Net's read loop. Inline, the read loop runs on the
/// event thread. On this project's 2-core machines that took 20–50 µs off a call and about 5% more calls
/// per second (BENCHMARKS.md). The price is that code which continues straight from a socket read runs on an
/// event thread: NATS.Net's read loop, which hands each message to a subscription's channel and never
/// blocks, and code that awaits an <see cref="System.Net.Http.HttpClient"/> or a stream directly. Neither
/// the node nor the agent blocks a thread there (their synchronous waits are on engine threads of their own).
/// </remarks>
public static class SocketCompletions
{
    /// <summary>The variable .NET reads, once, when the process creates its first socket.</summary>
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Turns inline completions on for this process, unless its environment already says (so
    /// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> turns them off). Call it first in <c>Main</c>:
    /// it has no effect once a socket exists.
    /// </summary>
    /// <returns>Whether they are on.</returns>
    public static bool PreferInline()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { } value)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
            return true;
        }

        return value == "1";
    }
}
