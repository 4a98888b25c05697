using System.Reflection;
using System.Runtime.InteropServices;

namespace Nex.Agent.Providers;

/// <summary>
/// Finds the native engines (<c>libwasmtime.so</c>, <c>ClearScriptV8.linux-x64.so</c>) when the agent
/// runs from a portable (RID-less) output such as the CLI's or a test project's, where NuGet leaves
/// them under <c>runtimes/&lt;rid&gt;/native/</c> while the agent's own RID-specific deps file expects
/// them next to the assembly. In the agent's own flat output the default probing finds them first.
/// </summary>
internal static class NativeLibraries
{
    private static readonly HashSet<Assembly> Registered = [];

    /// <summary>Registers the fallback for <paramref name="assembly"/>'s imports of <paramref name="fileName"/> (once per assembly).</summary>
    /// <param name="assembly">The managed wrapper assembly.</param>
    /// <param name="importName">The library name its <c>DllImport</c>s use, or a prefix of it.</param>
    /// <param name="fileName">The file on disk.</param>
    public static void Register(Assembly assembly, string importName, string fileName)
    {
        lock (Registered)
        {
            if (!Registered.Add(assembly))
            {
                return;
            }
        }

        try
        {
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => name.StartsWith(importName, StringComparison.Ordinal) ? Load(fileName) : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // The wrapper set a resolver of its own: it knows best.
        }
    }

    /// <summary>Loads <paramref name="fileName"/> from where the agent's engines are (flat, or under runtimes/); zero when absent.</summary>
    /// <param name="fileName">The file on disk.</param>
    /// <returns>The library handle, or <see cref="IntPtr.Zero"/>.</returns>
    public static IntPtr Load(string fileName)
    {
        if (NativeLibrary.TryLoad(Path.Combine(AppContext.BaseDirectory, fileName), out var flat))
        {
            return flat;
        }

        var nested = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", fileName);
        return NativeLibrary.TryLoad(nested, out var handle) ? handle : IntPtr.Zero;
    }
}
