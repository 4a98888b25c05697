using System.Runtime.InteropServices;
using System.Text;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// V8's own flags, set once before the first isolate exists, through V8's public <c>v8::V8::SetFlagsFromString</c>
/// (exported by ClearScript's native library; ClearScript itself offers only a few of them as
/// <c>V8GlobalFlags</c>).
/// </summary>
/// <remarks>
/// Every call gets a new context, and V8 builds the context from its snapshot, then installs each newer
/// language feature that is not in the snapshot, one by one, into every context. Profiled under 8 callers
/// (<c>perf</c>, 2026-12-07): those installs were 6% of the agent's CPU, explicit resource management alone
/// 2.6% (that one stays: ClearScript's own per-context script needs it). None of the others existed in the V8
/// of Nex 0.2, so functions written for it never use them: they are turned off. So is V8's minor collection
/// after each context disposal (another 2.5%): V8's own collections and the lane's (<see cref="V8Heap"/>) free
/// the used contexts.
/// </remarks>
internal static unsafe class V8EngineFlags
{
    /// <summary>The flags the agent applies.</summary>
    public const string PerContextCosts = "--no-js-float16array --no-js-base-64 --no-js-upsert --no-js-iterator-sequencing --no-idle-gc-on-context-disposal";

    // v8::V8::SetFlagsFromString(const char*), C++ name as the library exports it.
    private const string SetFlagsSymbol = "_ZN2v82V818SetFlagsFromStringEPKc";

    /// <summary>Sets <paramref name="flags"/> (before any isolate exists).</summary>
    /// <param name="library">ClearScript's native library file name.</param>
    /// <param name="flags">Space-separated V8 flags.</param>
    /// <returns>False when the library or the entry point is missing (nothing was set).</returns>
    public static bool TrySet(string library, string flags)
    {
        var handle = NativeLibraries.Load(library);
        if (handle == IntPtr.Zero || !NativeLibrary.TryGetExport(handle, SetFlagsSymbol, out var entry))
        {
            return false;
        }

        var text = Encoding.ASCII.GetBytes(flags + "\0");
        fixed (byte* p = text)
        {
            ((delegate* unmanaged<byte*, void>)entry)(p);
        }

        return true;
    }
}
