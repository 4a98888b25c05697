namespace Nex.Node.Machines;

/// <summary>How to run the agent: a program and the arguments that come before anything else.</summary>
internal sealed record AgentCommand(string FileName, IReadOnlyList<string> Arguments);

/// <summary>
/// Finds the <c>nex-agent</c> executable: <c>$NEX_AGENT_PATH</c>, the config's <c>bin_path</c>,
/// next to the node, then <c>$PATH</c>. A framework-dependent agent (<c>nex-agent.dll</c>) next to a
/// node that runs under <c>dotnet</c> is run with the same <c>dotnet</c>.
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

        var besideUs = Path.Combine(AppContext.BaseDirectory, "nex-agent.dll");
        if (File.Exists(besideUs) && Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            return new AgentCommand(host, [besideUs]);
        }

        var apphost = Path.Combine(AppContext.BaseDirectory, "nex-agent");
        if (File.Exists(apphost))
        {
            return FromPath(apphost);
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
