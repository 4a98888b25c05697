using Microsoft.ClearScript;
using Microsoft.ClearScript.V8;

namespace Nex.Agent.Providers.V8;

/// <summary>
/// One prepared context: a fresh engine in the lane's runtime with the prelude and the user's script run
/// and the function bound, plus the prelude's API object (<c>setFn</c>, <c>run</c>)
/// the host drives. Used by one call at most (the baseline mode aside) and disposed after it.
/// </summary>
/// <param name="engine">The engine (context).</param>
/// <param name="api">The prelude's API object.</param>
internal sealed class V8PreparedContext(V8ScriptEngine engine, ScriptObject api) : IDisposable
{
    /// <summary>The engine (context).</summary>
    public V8ScriptEngine Engine { get; } = engine;

    /// <summary>The prelude's API object.</summary>
    public ScriptObject Api { get; } = api;

    /// <inheritdoc />
    public void Dispose()
    {
        Api.Dispose();
        Engine.Dispose();
    }
}
