using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Nex.Processes;

namespace Nex.Node.Nats;

/// <summary>How to start a <c>nats-server</c> child process.</summary>
public sealed record NatsServerOptions
{
    /// <summary>Address to bind; loopback unless told otherwise; null leaves it to the config file.</summary>
    public string? Host { get; init; } = "127.0.0.1";

    /// <summary>Client port; <c>-1</c> lets the server pick a free one (read back from its log);
    /// null leaves it to the config file.</summary>
    public int? Port { get; init; } = -1;

    /// <summary>Enable JetStream.</summary>
    public bool JetStream { get; init; } = true;

    /// <summary>JetStream store directory; a temporary one when null.</summary>
    public string? StoreDirectory { get; init; }

    /// <summary>A configuration file to pass with <c>-c</c>.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>Server name (a clustered JetStream server needs one, unique in its cluster).</summary>
    public string? ServerName { get; init; }

    /// <summary>The cluster's name; with <see cref="ClusterPort"/>, makes this server one of a cluster.</summary>
    public string? ClusterName { get; init; }

    /// <summary>The port other servers of the cluster route to (on <see cref="Host"/>); null: not clustered.</summary>
    public int? ClusterPort { get; init; }

    /// <summary>Route URLs of the cluster's servers (this one's own may be among them; the server skips it).</summary>
    public IReadOnlyList<string> Routes { get; init; } = [];

    /// <summary>Do not tell clients about the cluster's other servers (<c>--no_advertise</c>): a client stays on the
    /// servers it was given (tests use it to cut a client off with its one server).</summary>
    public bool NoAdvertise { get; init; }

    /// <summary>
    /// The Go runtime's <c>GOMAXPROCS</c> for the server (how many threads run Go code at once); null leaves it to Go
    /// (one per core). Ignored when this process's environment sets <c>GOMAXPROCS</c> itself: that is the operator's.
    /// </summary>
    public int? GoMaxProcs { get; init; }

    /// <summary>The executable; found on <c>$PATH</c> (and <c>/usr/sbin</c>) when not a path.</summary>
    public string Executable { get; init; } = "nats-server";

    /// <summary>How long to wait for "Server is ready".</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The clock of the start, reload and stop timeouts. The real one by default: they bound a real
    /// process, which a fake clock that nobody advances would leave waiting forever.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// A real <c>nats-server</c> running as a child process. It dies with this process (even on
/// <c>kill -9</c>), and <see cref="DisposeAsync"/> stops it and waits for it to exit.
/// </summary>
public sealed partial class NatsServerProcess : IAsyncDisposable
{
    /// <summary>The Go runtime's variable for <see cref="NatsServerOptions.GoMaxProcs"/>.</summary>
    public const string GoMaxProcsVariable = "GOMAXPROCS";

    private const int LogLinesKept = 40;
    private readonly Process _process;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Queue<string> _recentLog = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string? _ownedStoreDirectory;
    private int _disposed;
    private int _reloads;
    private string? _lastReloadError;
    private TaskCompletionSource _reloadLogged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private NatsServerProcess(Process process, ILogger logger, TimeProvider time, string? ownedStoreDirectory)
    {
        _process = process;
        _logger = logger;
        _time = time;
        _ownedStoreDirectory = ownedStoreDirectory;
    }

    /// <summary>The client port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The address clients connect to, e.g. <c>nats://127.0.0.1:4222</c>.</summary>
    public string ClientUrl { get; private set; } = "";

    /// <summary>The server's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Completes when the server process has exited.</summary>
    public Task Exited => _exited.Task;

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Starts a server and waits until it accepts clients.</summary>
    /// <exception cref="InvalidOperationException">nats-server is missing, exits early, or is not ready in time; the message carries its last log lines.</exception>
    public static async Task<NatsServerProcess> StartAsync(NatsServerOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var exe = ChildProcessLauncher.FindOnPath(options.Executable)
            ?? throw new InvalidOperationException($"nats-server was not found on PATH (install it with: sudo apt-get install nats-server)");

        string? ownedStore = null;
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (options.GoMaxProcs is { } procs)
        {
            // Refused even when the environment's value wins: a bad option is the caller's bug either way.
            ArgumentOutOfRangeException.ThrowIfLessThan(procs, 1, nameof(options));
            if (Environment.GetEnvironmentVariable(GoMaxProcsVariable) is null)
            {
                info.Environment[GoMaxProcsVariable] = procs.ToString(CultureInfo.InvariantCulture);
            }
        }

        if (options.ConfigFile is { } config)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(config);
        }

        if (options.Host is { } host)
        {
            info.ArgumentList.Add("-a");
            info.ArgumentList.Add(host);
        }

        if (options.Port is { } port)
        {
            info.ArgumentList.Add("-p");
            info.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        }
        if (options.ServerName is { } name)
        {
            info.ArgumentList.Add("-n");
            info.ArgumentList.Add(name);
        }

        if (options.ClusterPort is { } clusterPort)
        {
            info.ArgumentList.Add("--cluster");
            info.ArgumentList.Add($"nats://{options.Host ?? "127.0.0.1"}:{clusterPort.ToString(CultureInfo.InvariantCulture)}");
            if (options.ClusterName is { } clusterName)
            {
                info.ArgumentList.Add("--cluster_name");
                info.ArgumentList.Add(clusterName);
            }

            if (options.Routes.Count > 0)
            {
                info.ArgumentList.Add("--routes");
                info.ArgumentList.Add(string.Join(',', options.Routes));
            }

            if (options.NoAdvertise)
            {
                info.ArgumentList.Add("--no_advertise=true"); // a Go bool flag: its value only with '='
            }
        }

        if (options.JetStream)
        {
            var store = options.StoreDirectory;
            if (store is null)
            {
                store = ownedStore = Directory.CreateTempSubdirectory("nex-nats-").FullName;
            }
            else
            {
                Directory.CreateDirectory(store);
            }

            info.ArgumentList.Add("-js");
            info.ArgumentList.Add("-sd");
            info.ArgumentList.Add(store);
        }

        var process = await ChildProcessLauncher.StartAsync(info).ConfigureAwait(false);
        var server = new NatsServerProcess(process, logger, options.Time, ownedStore);
        server.Attach();
        try
        {
            await server.WaitReadyAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>
    /// Asks the server to reload its configuration file (SIGHUP) and waits for it to confirm.
    /// Callers must not reload concurrently.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server rejected the new configuration, or did not answer in time.</exception>
    public async Task ReloadAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var before = Volatile.Read(ref _reloads);
        Volatile.Write(ref _lastReloadError, null);
        if (HasExited || !Posix.Signal(_process.Id, Posix.SIGHUP))
        {
            throw new InvalidOperationException("nats-server is not running");
        }

        var started = _time.GetTimestamp();
        while (true)
        {
            // Taken before the checks: a log line that arrives after them completes it.
            var logged = Volatile.Read(ref _reloadLogged).Task;
            if (Volatile.Read(ref _reloads) != before)
            {
                return;
            }

            if (Volatile.Read(ref _lastReloadError) is { } error)
            {
                throw new InvalidOperationException($"nats-server rejected its new configuration: {error}");
            }

            var left = timeout - _time.GetElapsedTime(started);
            if (HasExited || left < TimeSpan.Zero)
            {
                throw new InvalidOperationException($"nats-server did not confirm a configuration reload within {timeout.TotalSeconds:0.#}s");
            }

            // Woken by the log line (polling every 2 ms cost each agent start 1–2 ms), by the server's
            // exit, or by the deadline; each is re-checked above.
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(logged, Exited, Task.Delay(left + TimeSpan.FromMilliseconds(1), _time, wake.Token)).ConfigureAwait(false);
            await wake.CancelAsync().ConfigureAwait(false); // ends the deadline's timer when something else woke us
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private void SignalReloadLogged() =>
        Interlocked.Exchange(ref _reloadLogged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>The server's last log lines, for error messages.</summary>
    public string RecentLog()
    {
        lock (_recentLog)
        {
            return string.Join('\n', _recentLog);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (!HasExited)
        {
            // SIGTERM lets the server flush JetStream state; SIGKILL if it lingers.
            Posix.Signal(_process.Id, Posix.SIGTERM);
            if (await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromSeconds(5), _time)).ConfigureAwait(false) != Exited)
            {
                Posix.Signal(_process.Id, Posix.SIGKILL);
                await Task.WhenAny(Exited, Task.Delay(TimeSpan.FromSeconds(5), _time)).ConfigureAwait(false);
            }
        }

        _process.Dispose();
        if (_ownedStoreDirectory is not null)
        {
            try
            {
                Directory.Delete(_ownedStoreDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp dir is not worth failing a shutdown over.
            }
        }
    }

    private void Attach()
    {
        _process.ErrorDataReceived += (_, e) => OnLogLine(e.Data);
        _process.OutputDataReceived += (_, e) => OnLogLine(e.Data);
        _process.Exited += (_, _) =>
        {
            _exited.TrySetResult();
            _port.TrySetException(new InvalidOperationException("nats-server exited"));
        };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        if (_process.HasExited)
        {
            _exited.TrySetResult();
        }
    }

    private void OnLogLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_recentLog)
        {
            _recentLog.Enqueue(line);
            while (_recentLog.Count > LogLinesKept)
            {
                _recentLog.Dequeue();
            }
        }

        if (ClientListenRegex().Match(line) is { Success: true } match)
        {
            _port.TrySetResult(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        else if (line.Contains("Server is ready", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
        else if (line.Contains("Reloaded server configuration", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _reloads);
            SignalReloadLogged();
        }
        else if (line.Contains("Failed to reload server configuration", StringComparison.Ordinal))
        {
            Volatile.Write(ref _lastReloadError, line[(line.IndexOf("Failed", StringComparison.Ordinal) + 38)..].Trim(':', ' '));
            SignalReloadLogged();
        }

        // Authentication errors are routine: agents reconnecting after their account was removed.
        if ((line.Contains("[ERR]", StringComparison.Ordinal) && !line.Contains("authentication error", StringComparison.Ordinal)) || line.Contains("[FTL]", StringComparison.Ordinal))
        {
            // nats-server's own "[pid] date time [ERR] " prefix would put a second time and level on our line.
            var fatal = line.Contains("[FTL]", StringComparison.Ordinal);
            var tag = line.IndexOf(fatal ? "[FTL] " : "[ERR] ", StringComparison.Ordinal);
            LogServerError(_logger, fatal ? LogLevel.Error : LogLevel.Warning, tag < 0 ? line : line[(tag + 6)..]);
        }
    }

    private async Task WaitReadyAsync(NatsServerOptions options, CancellationToken cancellationToken)
    {
        using var expiry = new CancellationTokenSource(options.StartTimeout, _time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, expiry.Token);
        try
        {
            var ready = Task.WhenAll(_port.Task, _ready.Task);
            var finished = await Task.WhenAny(ready, Exited).WaitAsync(timeout.Token).ConfigureAwait(false);
            if (finished != ready || !ready.IsCompletedSuccessfully)
            {
                // Give the log reader a moment to drain the server's last words.
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, CancellationToken.None).ConfigureAwait(false);
                throw new InvalidOperationException($"nats-server exited during start-up:\n{RecentLog()}");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"nats-server was not ready within {options.StartTimeout.TotalSeconds:0}s:\n{RecentLog()}");
        }

        Port = _port.Task.Result;
        var host = options.Host is null or "0.0.0.0" or "" ? "127.0.0.1" : options.Host;
        ClientUrl = $"nats://{host}:{Port}";
    }

    [GeneratedRegex(@"Listening for client connections on [^\s]*:(\d+)")]
    private static partial Regex ClientListenRegex();

    [LoggerMessage(EventId = 100, Message = "nats-server: {Line}")]
    private static partial void LogServerError(ILogger logger, LogLevel level, string line);
}
