namespace Nex.Node.Machines;

/// <summary>How to run the agent: a program and the arguments that come before anything else.</summary>
internal sealed record AgentCommand(string FileName, IReadOnlyList<string> Arguments);

/// <summary>
/// Finds the agent: <c>$NEX_AGENT_PATH</c>, the config's <c>bin_path</c>, next to the node, then
/// <c>$PATH</c>. Next to the node the executable <c>nex-agent</c> (the NativeAOT build that <c>./nex</c>
/// publishes there, a third of the portable agent's idle memory) wins over <c>nex-agent.dll</c>, which is run
/// with the <c>dotnet</c> that runs the node (the agent project builds no apphost, so an executable
/// <c>nex-agent</c> is always the native one).
/// </summary>
internal static class AgentLocator
{
    public static AgentCommand Find(IReadOnlyList<string>? binPath)
    {
        if (Environment.GetEnvironmentVariable("NEX_AGENT_PATH") is { Length: > 0 } explicitPath)
        {
            return File.Exists(explicitPath)
                ? FromPath(explicitPath)
                : throw new NodeStartException($"NEX_AGENT_PATH names {explicitPath}, which does not exist");
        }

        foreach (var dir in binPath ?? [])
        {
            var candidate = Path.Combine(dir, "nex-agent");
            if (File.Exists(candidate))
            {
                return FromPath(candidate);
            }
        }

        var native = Path.Combine(AppContext.BaseDirectory, "nex-agent");
        if (File.Exists(native))
        {
            return FromPath(native);
        }

        var besideUs = Path.Combine(AppContext.BaseDirectory, "nex-agent.dll");
        if (File.Exists(besideUs) && Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            return new AgentCommand(host, [besideUs]);
        }

        if (File.Exists(besideUs))
        {
            return new AgentCommand(Nex.Processes.ChildProcessLauncher.FindOnPath("dotnet") ?? "dotnet", [besideUs]);
        }

        return Nex.Processes.ChildProcessLauncher.FindOnPath("nex-agent") is { } onPath
            ? FromPath(onPath)
            : throw new NodeStartException("nex-agent was not found (next to the node, in bin_path, or on PATH); build it with ./nex or set NEX_AGENT_PATH");
    }

    private static AgentCommand FromPath(string path) =>
        path.EndsWith(".dll", StringComparison.Ordinal)
            ? new AgentCommand(Nex.Processes.ChildProcessLauncher.FindOnPath("dotnet") ?? "dotnet", [path])
            : new AgentCommand(path, []);
}
