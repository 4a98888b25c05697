using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using NATS.Client.Core;
using Nex.Client;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Bench;

/// <summary>Settings of one node under test.</summary>
internal sealed record BenchNodeSettings
{
    /// <summary>The sandbox driver (<c>sandbox</c> in the config).</summary>
    public string Sandbox { get; init; } = "none";

    public int PoolSize { get; init; } = 1;

    /// <summary>Node log level; <c>debug</c> is needed to see agents become warm (and slows functions down).</summary>
    public string LogLevel { get; init; } = "warn";

    /// <summary>Where <c>nex.dll</c> (and the agent beside it) is; by default the harness's own directory.</summary>
    public string NodeDirectory { get; init; } = AppContext.BaseDirectory;

    /// <summary>Config keys set on top of the bench's own (the campaign's node settings).</summary>
    public IReadOnlyDictionary<string, JsonNode?>? ExtraConfig { get; init; }

    /// <summary>The node's name (its <c>node_name</c> tag); null: a random one.</summary>
    public string? Name { get; init; }

    /// <summary>The node's TMPDIR (its agents write <c>workload-&lt;id&gt;</c> there); null: inherited.</summary>
    public string? TempDirectory { get; init; }
}

/// <summary>
/// A real node as its own process (<c>dotnet nex.dll node up</c>) on the bench's NATS server, with its
/// own NEX home, config and PID file in a temporary directory. Disposing stops it with SIGTERM (its
/// agents and workloads go with it) and removes the directory.
/// </summary>
internal sealed class BenchNode : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly List<long> _warmAt = [];
    private readonly List<string> _lastLines = [];

    private BenchNode(Process process, string dir, long startedAt, string name)
    {
        _process = process;
        _dir = dir;
        StartedAt = startedAt;
        Name = name;
    }

    /// <summary>The node's name (its <c>node_name</c> tag).</summary>
    public string Name { get; }

    public int Pid => _process.Id;

    /// <summary>Whether the node process has exited (e.g. after a kill -9 by the campaign).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the node printed (for error messages).</summary>
    public string OutputTail => Tail();

    public string NodeId { get; private set; } = "";

    public string Xkey { get; private set; } = "";

    /// <summary>Stopwatch timestamp of the process start.</summary>
    public long StartedAt { get; }

    /// <summary>Stopwatch timestamps of "agent is warm" log lines (debug level only).</summary>
    public IReadOnlyList<long> WarmAt
    {
        get
        {
            lock (_warmAt)
            {
                return [.. _warmAt];
            }
        }
    }

    public static async Task<BenchNode> StartAsync(string natsUrl, NexClient client, BenchNodeSettings settings, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("nex-bench-node-").FullName;
        var name = settings.Name ?? "bench-" + Guid.NewGuid().ToString("N")[..8];
        var config = new JsonObject
        {
            ["machine_pool_size"] = settings.PoolSize,
            ["sandbox"] = settings.Sandbox,
            ["workload_types"] = new JsonArray("native", "v8", "wasm"),
            ["pid_filepath"] = Path.Combine(dir, "nex.pid"),
            ["tags"] = new JsonObject { ["node_name"] = name },
        };
        foreach (var (key, value) in settings.ExtraConfig ?? new Dictionary<string, JsonNode?>())
        {
            config[key] = value?.DeepClone();
        }

        if (settings.Sandbox == "container")
        {
            config["rootfs_filepath"] = SandboxDrivers.Rootfs(settings.NodeDirectory);
        }
        else if (settings.Sandbox == "microvm")
        {
            // Only when asked for (--drivers microvm): under TCG each VM is seconds of CPU.
            config["kernel_filepath"] = Path.Combine(Path.GetDirectoryName(SandboxDrivers.Rootfs(settings.NodeDirectory))!, "vm", "vmlinux");
        }

        var configPath = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(configPath, config.ToJsonString(), cancellationToken).ConfigureAwait(false);

        var nexDll = Path.Combine(settings.NodeDirectory, "nex.dll");
        var info = new ProcessStartInfo(ChildProcessLauncher.FindOnPath("dotnet") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        foreach (var arg in new[] { nexDll, "node", "up", "--server", natsUrl, "--config", configPath, "--loglevel", settings.LogLevel })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["NEX_HOME"] = dir;
        if (settings.TempDirectory is { } tmp)
        {
            info.Environment["TMPDIR"] = tmp;
        }

        var startedAt = Stopwatch.GetTimestamp();
        var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
        var node = new BenchNode(process, dir, startedAt, name);
        node.Pump(process.StandardOutput);
        node.Pump(process.StandardError);
        try
        {
            await node.WaitReadyAsync(client, name, cancellationToken).ConfigureAwait(false);
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Agents under the node (warm or running a workload).</summary>
    public IReadOnlyList<ProcessMemory> Processes() => Procfs.Descendants(Pid);

    /// <summary>Waits until <paramref name="count"/> agents have logged that they are warm.</summary>
    public async Task WaitWarmAsync(int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (WarmAt.Count < count)
        {
            if (Stopwatch.GetTimestamp() > deadline || _process.HasExited)
            {
                throw new BenchException($"only {WarmAt.Count} of {count} agents became warm within {timeout.TotalSeconds:0}s{Tail()}");
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the node has <paramref name="idle"/> agents not running a workload
    /// (an agent process without a workload child), e.g. until the warm pool is refilled.</summary>
    public async Task WaitIdleAgentsAsync(int idle, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var processes = Procfs.Descendants(Pid);
            var agents = processes.Where(p => p.Role == ProcessRole.Agent).Select(p => p.Pid).ToHashSet();
            var busy = processes.Where(p => p.Role == ProcessRole.Workload)
                .Select(p => ParentAgent(p.Pid, agents)).Where(a => a is not null).ToHashSet();
            if (agents.Count - busy.Count >= idle)
            {
                return;
            }

            if (Stopwatch.GetTimestamp() > deadline || _process.HasExited)
            {
                throw new BenchException($"the node has {agents.Count - busy.Count} idle agents, not {idle}, after {timeout.TotalSeconds:0}s{Tail()}");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Posix.Signal(_process.Id, Posix.SIGTERM);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await ProcessTree.TerminateAsync(_process, TimeSpan.Zero).ConfigureAwait(false);
            }
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A workload may still be releasing a file; the temp directory is cleaned by the OS.
        }
    }

    private static int? ParentAgent(int pid, HashSet<int> agents)
    {
        // Walk up from a workload process to the agent that runs it.
        for (var current = pid; current > 1;)
        {
            if (agents.Contains(current))
            {
                return current;
            }

            var stat = Procfs.ParentOf(current);
            if (stat is not { } parent)
            {
                return null;
            }

            current = parent;
        }

        return null;
    }

    private async Task WaitReadyAsync(NexClient client, string name, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        var auction = new AuctionRequest { Tags = new Dictionary<string, string> { ["node_name"] = name } };
        while (true)
        {
            if (_process.HasExited)
            {
                throw new BenchException($"the node exited with code {_process.ExitCode}{Tail()}");
            }

            if (await client.AuctionFirstAsync(auction, cancellationToken).ConfigureAwait(false) is { } bid)
            {
                NodeId = bid.NodeId;
                Xkey = (await client.InfoAsync(NodeId, cancellationToken).ConfigureAwait(false)).PublicXkey;
                return;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new BenchException($"the node did not answer within 30s{Tail()}");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Pump(StreamReader reader) => _ = Task.Run(async () =>
    {
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            var now = Stopwatch.GetTimestamp();
            lock (_warmAt)
            {
                if (line.Contains(" is warm", StringComparison.Ordinal))
                {
                    _warmAt.Add(now);
                }

                _lastLines.Add(line);
                if (_lastLines.Count > 20)
                {
                    _lastLines.RemoveAt(0);
                }
            }
        }
    });

    private string Tail()
    {
        lock (_warmAt)
        {
            return _lastLines.Count == 0 ? "" : "; node output:\n  " + string.Join("\n  ", _lastLines);
        }
    }
}

/// <summary>A benchmark step that could not run; its message is printed as one line.</summary>
internal sealed class BenchException(string message) : Exception(message);
