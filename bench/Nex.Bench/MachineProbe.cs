using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Nex.Bench;

/// <summary>What the figures were measured on.</summary>
internal static class MachineProbe
{
    public static async Task<MachineInfo> ReadAsync(string nodeDirectory, CancellationToken cancellationToken)
    {
        var cpu = ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) is { } model
            ? model[(model.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
            : RuntimeInformation.ProcessArchitecture.ToString();
        var memKiB = ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } mem
            ? long.Parse(mem.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)
            : 0;
        var kernel = ReadLines("/proc/sys/kernel/osrelease").FirstOrDefault() ?? RuntimeInformation.OSDescription;
        var nats = await FirstLineAsync("nats-server", "--version", cancellationToken).ConfigureAwait(false);
        // What the node will pick (AgentLocator): $NEX_AGENT_PATH, the native agent beside it, else the portable one.
        var agent = Environment.GetEnvironmentVariable("NEX_AGENT_PATH") is { Length: > 0 } path ? path
            : File.Exists(Path.Combine(nodeDirectory, "nex-agent")) ? "nex-agent (NativeAOT)"
            : "dotnet nex-agent.dll";
        return new MachineInfo(cpu, Environment.ProcessorCount, Math.Round(memKiB / 1024.0 / 1024.0, 1), kernel, RuntimeInformation.FrameworkDescription, nats, agent);
    }

    private static IEnumerable<string> ReadLines(string path) => File.Exists(path) ? File.ReadLines(path) : [];

    private static async Task<string> FirstLineAsync(string program, string argument, CancellationToken cancellationToken)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(Nex.Processes.ChildProcessLauncher.FindOnPath(program) ?? $"/usr/sbin/{program}", argument)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return output.Split('\n')[0].Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}

/// <summary>The sandbox drivers this machine can run (the figures are repeated under each).</summary>
internal static class SandboxDrivers
{
    /// <summary>The process driver (<c>none</c>) always; <c>container</c> when its preflight passes with the
    /// root filesystem that <c>bench/run</c> builds beside the node (<c>.build/sandbox/rootfs</c>).</summary>
    /// <param name="nodeDirectory">Where the measured node is published.</param>
    public static IReadOnlyList<string> Available(string nodeDirectory) =>
        Nex.Node.Machines.SandboxPreflight.For("container", Rootfs(nodeDirectory)).All(c => c.Ready) ? ["none", "container"] : ["none"];

    /// <summary>The container root filesystem used with the node in <paramref name="nodeDirectory"/>.</summary>
    public static string Rootfs(string nodeDirectory) => Path.GetFullPath(Path.Combine(nodeDirectory, "..", "sandbox", "rootfs"));
}
