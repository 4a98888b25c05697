using Microsoft.ClearScript.V8;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// Heap management of one lane: owns its <see cref="V8Runtime"/> (one isolate) and its limits — a soft,
/// sampled limit at the function's memory limit and a hard V8 limit well above it, which V8 doubles rather than
/// abort the process when a script nears it — and decides when to
/// collect: before a preparation or after a disposal once the heap is half full, and exhaustively after a
/// V8 failure (then the soft limit, which ClearScript disarms when it trips, is re-armed). Also applies the
/// process-wide V8 settings once. Used on the lane's threads only (never concurrently: the preparing thread
/// gets work only once the runtime exists, and V8 lets one thread at a time into the isolate).
/// </summary>
internal sealed class V8Heap : IDisposable
{
    private const long MiB = 1024 * 1024;

    private static readonly Lock ProcessGate = new();
    private static bool _processConfigured;

    // JavaScript's stack: V8's own default depth (984 KiB, as 0.2 had), but set, so ClearScript bounds it from
    // wherever each call enters; unset, ClearScript enforces no limit of its own. A reused context's calls run on
    // the trigger's thread-pool thread, not on a lane thread of known size, and a host call made at that depth
    // needs the stack beneath it.
    private const nuint MaxStackBytes = 984 * 1024;

    // The soft limit is sampled on a thread-pool timer (ClearScript's), so busy pool threads delay the sample,
    // and a script allocating fast then reached the hard limit first, where V8 aborts the whole process. Near the
    // hard limit V8 now doubles it instead, as often as needed, until the late sample trips the soft limit and
    // fails the call (ClearScript's advice: expansion together with the sampled limit). The process's memory
    // stays bounded by its sandbox's limit where the driver sets one (container, VM).
    private const double HeapExpansion = 2;

    private readonly long _maxMemoryBytes;

    /// <summary>Creates the heap manager; the runtime exists after <see cref="CreateRuntime"/>.</summary>
    /// <param name="maxMemoryBytes">The function's heap limit, bytes.</param>
    public V8Heap(long maxMemoryBytes) => _maxMemoryBytes = maxMemoryBytes;

    /// <summary>The runtime, or null before <see cref="CreateRuntime"/> and after <see cref="Dispose"/>.</summary>
    public V8Runtime? Runtime { get; private set; }

    /// <summary>The hard V8 old-space limit, MiB: well above the soft limit, so the soft limit (sampled) trips first.</summary>
    /// <param name="maxMemoryBytes">The function's heap limit, bytes.</param>
    /// <returns>Twice the limit plus 16 MiB, at least 32 MiB.</returns>
    public static int HardLimitMiB(long maxMemoryBytes) => (int)Math.Max(32, (maxMemoryBytes * 2 / MiB) + 16);

    /// <summary>Whether the heap is full enough to collect the garbage of used contexts now.</summary>
    /// <param name="usedBytes">Heap in use.</param>
    /// <param name="maxMemoryBytes">The function's heap limit, bytes.</param>
    /// <returns>True past half the limit.</returns>
    public static bool ShouldTrim(ulong usedBytes, long maxMemoryBytes) => usedBytes > (ulong)(maxMemoryBytes / 2);

    /// <summary>Applies the process-wide settings (once) and creates the runtime with the limits.</summary>
    /// <returns>The runtime.</returns>
    public V8Runtime CreateRuntime()
    {
        ConfigureProcess();
        var constraints = new V8RuntimeConstraints
        {
            MaxOldSpaceSize = HardLimitMiB(_maxMemoryBytes),
            MaxArrayBufferAllocation = (ulong)_maxMemoryBytes,
            HeapExpansionMultiplier = HeapExpansion,
        };
        Runtime = new V8Runtime("nex-v8", constraints)
        {
            MaxHeapSize = (UIntPtr)_maxMemoryBytes,
            HeapSizeSampleInterval = TimeSpan.FromMilliseconds(10),
            MaxStackUsage = MaxStackBytes,
        };
        return Runtime;
    }

    // Disposed contexts leave garbage in the shared runtime until V8 decides to collect it, and
    // ClearScript's sampled heap limit can trip first, failing an innocent call: collect once the
    // heap is half way to the limit, after the reply has gone.

    /// <summary>Collects the dead contexts when the heap is half full.</summary>
    public void Trim()
    {
        if (Runtime is { } runtime && ShouldTrim(runtime.GetHeapInfo().UsedHeapSize, _maxMemoryBytes))
        {
            CollectDeadContexts(runtime, exhaustive: false);
        }
    }

    /// <summary>After a V8 failure (e.g. the heap limit): collect and re-arm the limit so later calls run.</summary>
    public void Recover()
    {
        if (Runtime is { } runtime)
        {
            CollectDeadContexts(runtime, exhaustive: true);
            runtime.MaxHeapSize = (UIntPtr)_maxMemoryBytes;
        }
    }

    /// <summary>Collects as <see cref="Trim"/> does when the heap fills up, then reports the heap in use (tests).</summary>
    /// <param name="v8Only">Only a V8 collection: no .NET finalizers run first (the fallback stays out).</param>
    /// <returns>Bytes of V8 heap in use after the collection.</returns>
    public ulong CollectAndMeasure(bool v8Only = false)
    {
        if (v8Only)
        {
            Runtime!.CollectGarbage(exhaustive: true);
        }
        else
        {
            CollectDeadContexts(Runtime!, exhaustive: false);
        }

        return Runtime!.GetHeapInfo().UsedHeapSize;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Runtime?.Dispose();
        Runtime = null;
    }

    /// <summary>
    /// Frees the disposed contexts. One live ClearScript handle keeps its whole (disposed) context alive, so
    /// every handle the host gets is released explicitly (<see cref="V8HostBridge.Release"/>,
    /// <see cref="V8HostBridge.ReleaseBytes"/>) and a V8 collection alone frees the dead contexts. A handle
    /// left to the .NET finalizer anyway (one we do not know of) would keep the heap full, and every V8
    /// collection would mark all those contexts (measured before the releases: 200–330 ms collections every
    /// few calls): so when a V8 collection leaves the heap above the trim line, the .NET finalizers run and
    /// V8 collects once more. That used to be every collection (15–50 ms, every ~150 calls); now it is a
    /// fallback, and a collection is V8's alone.
    /// </summary>
    private void CollectDeadContexts(V8Runtime runtime, bool exhaustive)
    {
        runtime.CollectGarbage(exhaustive);
        if (exhaustive || ShouldTrim(runtime.GetHeapInfo().UsedHeapSize, _maxMemoryBytes))
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            runtime.CollectGarbage(exhaustive);
        }
    }

    /// <summary>Process-wide V8 settings, applied before the first runtime exists.</summary>
    private static void ConfigureProcess()
    {
        lock (ProcessGate)
        {
            if (_processConfigured)
            {
                return;
            }

            NativeLibraries.Register(typeof(V8Runtime).Assembly, "ClearScriptV8", "ClearScriptV8.linux-x64.so");

            // ClearScript runs V8's background work (concurrent marking, sweeping) on the .NET thread pool,
            // where NATS.Net's socket loops run too: on 2 cores a marking task delayed replies. Without
            // it V8 collects on the lane's own thread, after the reply has gone and while the other lane
            // answers (measured: p99 8–13 ms instead of 19–25 ms, throughput +10%, median unchanged).
            V8Settings.GlobalFlags |= V8GlobalFlags.DisableBackgroundWork;
            _ = V8EngineFlags.TrySet("ClearScriptV8.linux-x64.so", V8EngineFlags.PerContextCosts);
            _processConfigured = true;
        }
    }
}
