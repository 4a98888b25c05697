using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Nex.Agent.Logging;
using Nex.Agent.Providers;
using Nex.Processes;
using Nex.Protocol;

// The agent runs in Linux sandboxes (and, for development, on any Unix): POSIX signals, process groups, file modes.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

namespace Nex.Agent;

/// <summary>The <c>nex-agent</c> entry point.</summary>
internal static class Program
{
    /// <summary>Runs the agent; exit code 0 after a signal, 1 on a fatal error.</summary>
    /// <returns>The exit code.</returns>
    public static async Task<int> Main()
    {
        // Before any socket exists: .NET reads this once (each NATS read then skips a thread-pool hop).
        SocketCompletions.PreferInline();
        var stderr = Console.Error;

        // Before the seed is read: a workload runs as our user (no sandbox, or inside the sandbox), and
        // must not read it from our memory, environment or descriptors through /proc.
        Posix.SetNotDumpable();

        // Nothing the node (or whoever started it) left open reaches the workload.
        Posix.CloseInheritedDescriptorsOnExec();
        if (!AgentSettingsLoader.TryLoad(out var settings, out var error))
        {
            await stderr.WriteLineAsync($"nex-agent: {error}").ConfigureAwait(false);
            return 1;
        }

        // A metadata file that carried the seed (a microVM's) goes once read; where we may not delete it
        // (the container's, which carries none) it stays.
        if (Environment.GetEnvironmentVariable(AgentEnvironment.MetadataFile) is { Length: > 0 } metadataFile && settings!.Sandboxed)
        {
            try
            {
                File.Delete(metadataFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Read-only or not ours: it holds no secret then.
            }
        }

        await stderr.WriteLineAsync($"Starting Nex Agent - {Version}").ConfigureAwait(false);

        // A microVM restored from a snapshot shares its kernel's random state with every other clone of
        // that snapshot. Its init has mixed a seed from the host into the pool; make the kernel rekey from
        // it before anything here (NATS, TLS, nkeys) draws a random number.
        if (Environment.GetEnvironmentVariable(AgentEnvironment.ReseedCrng) == "1" && Posix.ReseedKernelRandom() is { } reseedError)
        {
            await stderr.WriteLineAsync($"nex-agent: cannot reseed the kernel's random generator after a snapshot restore: {reseedError}").ConfigureAwait(false);
            return 1;
        }

        // In a sandbox without a network (the container driver) NATS arrives as unix sockets bound in
        // from the node: the agent connects through its own (NEX_NODE_NATS_SOCKET), and relays a loopback
        // port to the workload's, so a service connects as usual.
        var relays = new List<SocketRelay>();
        try
        {
            foreach (var (listen, target) in ParseRelays(Environment.GetEnvironmentVariable(AgentEnvironment.Relays)))
            {
                relays.Add(SocketRelay.Start(listen, target));
            }
        }
        catch (Exception ex) when (ex is FormatException or System.Net.Sockets.SocketException)
        {
            await stderr.WriteLineAsync($"nex-agent: {AgentEnvironment.Relays}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        try
        {
            return await RunAsync(settings!).ConfigureAwait(false);
        }
        finally
        {
            foreach (var relay in relays)
            {
                await relay.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Parses <see cref="AgentEnvironment.Relays"/>.</summary>
    /// <param name="text">The variable's value (null or empty: no relays).</param>
    /// <returns>The pairs.</returns>
    /// <exception cref="FormatException">An entry is malformed.</exception>
    internal static IEnumerable<(System.Net.EndPoint Listen, System.Net.EndPoint Target)> ParseRelays(string? text)
    {
        var pairs = new List<(System.Net.EndPoint, System.Net.EndPoint)>();
        foreach (var entry in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"'{entry}' is not listen=target");
            }

            pairs.Add((SocketRelay.ParseEndPoint(entry[..eq]), SocketRelay.ParseEndPoint(entry[(eq + 1)..])));
        }

        return pairs;
    }

    private static async Task<int> RunAsync(AgentSettings settings)
    {
        var stderr = Console.Error;

        // Never disposed: a signal that arrives as we exit is handled on a thread-pool thread, possibly after
        // the registrations below are gone, and must not find it disposed (that was an unhandled exception).
        var shutdown = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we exit ourselves, after stopping the workload
            shutdown.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal);

        using var loggers = new StderrLoggerProvider(LogLevel.Information);
        var agent = new NexAgent(settings, new WorkloadProviderFactory(), loggers, TimeProvider.System);
        await using (agent.ConfigureAwait(false))
        {
            try
            {
                return await agent.RunAsync(shutdown.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // A bug, not a condition: still one line, and the non-zero exit the node expects.
                await stderr.WriteLineAsync($"fatal: unexpected {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" | ")}").ConfigureAwait(false);
                return 1;
            }
        }
    }

    /// <summary>The informational version without build metadata, e.g. <c>0.3.0</c>.</summary>
    internal static string Version
    {
        get
        {
            var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
            var plus = version.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? version : version[..plus];
        }
    }
}
