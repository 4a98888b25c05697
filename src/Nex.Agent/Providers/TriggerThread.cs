namespace Nex.Agent.Providers;

/// <summary>
/// What a provider that runs each call on the trigger's own thread-pool thread (WASM, V8 with a reused context)
/// needs of the pool.
/// </summary>
internal static class TriggerThread
{
    /// <summary>
    /// Raises the pool's minimum to two workers when .NET chose one. A call holds its thread until it ends; with
    /// one CPU (a 1-vCPU microVM, a container's CPU quota) .NET keeps a single worker, and the replies of calls
    /// already done waited in NATS.Net's writer until a backlog of calls had drained (20 calls of ~15 ms sent at
    /// once: the last 14 replies all at 476 ms). A second worker lets the writer send each reply as its call ends.
    /// </summary>
    public static void EnsureASecondWorker()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        if (workers < 2)
        {
            ThreadPool.SetMinThreads(2, io);
        }
    }
}
