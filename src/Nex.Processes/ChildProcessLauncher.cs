using System.Collections.Concurrent;
using System.Diagnostics;

namespace Nex.Processes;

/// <summary>
/// Starts child processes that die with the node, even on <c>kill -9</c>, and that do not share its
/// terminal: each leads a new session (<c>setsid</c>), so a Ctrl-C (SIGINT to the terminal's foreground
/// process group) reaches the node alone, which then stops its children in order.
/// </summary>
/// <remarks>
/// Linux delivers the parent-death signal when the <em>thread</em> that forked the child exits,
/// not the process. .NET forks on the calling thread, and thread-pool threads retire when idle,
/// so children are started from one dedicated thread that lives as long as the process.
/// The signal itself is set by <c>setpriv --pdeathsig KILL</c> (util-linux), which then execs
/// the real program: same pid, no window in which the child outlives us unarmed.
/// </remarks>
public static class ChildProcessLauncher
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> Requests = new();
    private static readonly Lazy<string?> SetPriv = new(() => FindOnPath("setpriv"));
    private static readonly Lazy<Thread> Worker = new(() =>
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "nex-child-launcher" };
        thread.Start();
        return thread;
    });

    private static readonly Lazy<string?> SetSid = new(() => FindOnPath("setsid"));

    /// <summary>
    /// Starts <paramref name="info"/> as the leader of a new session and process group (<c>setsid</c>), with a
    /// parent-death SIGKILL, where the host supports them. Leading its own group also lets
    /// <see cref="ProcessTree"/> signal everything the child starts.
    /// </summary>
    /// <param name="info">What to run.</param>
    public static Task<Process> StartAsync(ProcessStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Without a session of its own, a child stays in the terminal's foreground process group and gets
        // Ctrl-C's SIGINT together with the node: the embedded nats-server and the agents then die before
        // the node can stop workloads and publish node_stopped through them.
        if (OperatingSystem.IsLinux() && SetSid.Value is { } setsid)
        {
            info = Prefix(info, setsid, []);
        }

        if (OperatingSystem.IsLinux() && Environment.ProcessId != 1 && SetPriv.Value is { } setpriv)
        {
            _ = Worker.Value;
            Requests.Add((Prefix(info, setpriv, ["--pdeathsig", "KILL"]), done));
            return done.Task;
        }

        // No death signal to arm: as the init (pid 1) of a PID namespace (an agent the node runs under
        // `unshare --pid`), our exit makes the kernel kill every process in the namespace. So neither
        // setpriv's exec nor the hop to the launcher thread buys anything; start it here.
        Start(info, done);
        return done.Task;
    }

    // Runs `wrapper [wrapperArgs] -- file args`: util-linux wrappers exec the real program, same pid.
    private static ProcessStartInfo Prefix(ProcessStartInfo info, string wrapper, string[] wrapperArgs)
    {

        var wrapped = new ProcessStartInfo(wrapper)
        {
            RedirectStandardError = info.RedirectStandardError,
            RedirectStandardOutput = info.RedirectStandardOutput,
            RedirectStandardInput = info.RedirectStandardInput,
            UseShellExecute = false,
            WorkingDirectory = info.WorkingDirectory,
        };
        foreach (var arg in wrapperArgs)
        {
            wrapped.ArgumentList.Add(arg);
        }

        wrapped.ArgumentList.Add("--");
        wrapped.ArgumentList.Add(info.FileName);
        foreach (var arg in info.ArgumentList)
        {
            wrapped.ArgumentList.Add(arg);
        }

        wrapped.Environment.Clear();
        foreach (var (key, value) in info.Environment)
        {
            wrapped.Environment[key] = value;
        }

        return wrapped;
    }

    private static void Run()
    {
        foreach (var (info, done) in Requests.GetConsumingEnumerable())
        {
            Start(info, done);
        }
    }

    private static void Start(ProcessStartInfo info, TaskCompletionSource<Process> done)
    {
        try
        {
            var process = new Process { StartInfo = info, EnableRaisingEvents = true };
            process.Start();
            done.SetResult(process);
        }
        catch (Exception ex)
        {
            done.SetException(ex);
        }
    }

    /// <summary>Finds an executable on <c>$PATH</c>, or null.</summary>
    public static string? FindOnPath(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        // Debian installs nats-server under /usr/sbin, which a non-root PATH may lack.
        foreach (var dir in new[] { "/usr/sbin", "/sbin", "/usr/local/sbin" })
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
