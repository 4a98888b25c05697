using System.Collections.Concurrent;
using System.Diagnostics;

namespace Nex.Node.Processes;

/// <summary>
/// Starts child processes that die with the node, even on <c>kill -9</c>.
/// </summary>
/// <remarks>
/// Linux delivers the parent-death signal when the <em>thread</em> that forked the child exits,
/// not the process. .NET forks on the calling thread, and thread-pool threads retire when idle,
/// so children are started from one dedicated thread that lives as long as the process.
/// The signal itself is set by <c>setpriv --pdeathsig KILL</c> (util-linux), which then execs
/// the real program: same pid, no window in which the child outlives us unarmed.
/// </remarks>
internal static class ChildProcessLauncher
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> Requests = new();
    private static readonly Lazy<string?> SetPriv = new(() => FindOnPath("setpriv"));
    private static readonly Lazy<Thread> Worker = new(() =>
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "nex-child-launcher" };
        thread.Start();
        return thread;
    });

    /// <summary>Starts <paramref name="info"/> with a parent-death SIGKILL where the host supports it.</summary>
    public static Task<Process> StartAsync(ProcessStartInfo info)
    {
        _ = Worker.Value;
        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((WrapWithDeathSignal(info), done));
        return done.Task;
    }

    private static ProcessStartInfo WrapWithDeathSignal(ProcessStartInfo info)
    {
        if (!OperatingSystem.IsLinux() || SetPriv.Value is not { } setpriv)
        {
            return info;
        }

        var wrapped = new ProcessStartInfo(setpriv)
        {
            RedirectStandardError = info.RedirectStandardError,
            RedirectStandardOutput = info.RedirectStandardOutput,
            RedirectStandardInput = info.RedirectStandardInput,
            UseShellExecute = false,
            WorkingDirectory = info.WorkingDirectory,
        };
        wrapped.ArgumentList.Add("--pdeathsig");
        wrapped.ArgumentList.Add("KILL");
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
