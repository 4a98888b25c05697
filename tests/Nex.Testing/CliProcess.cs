using System.Diagnostics;
using System.Text;

namespace Nex.Testing;

/// <summary>Runs the real <c>nex</c> CLI (the built nex.dll) as a child process.</summary>
public sealed class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    public string StdOut
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StdErr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public int ExitCode => _process.ExitCode;

    public Task Exited => _exited.Task;

    /// <summary>The nex.dll next to the test assembly (the CLI project is referenced by the test project).</summary>
    public static string NexDll => Path.Combine(AppContext.BaseDirectory, "nex.dll");

    public static CliProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(NexDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // A test must never pick up the developer's NATS settings.
        foreach (var name in new[] { "NATS_URL", "NATS_CONTEXT", "NATS_CREDS", "NATS_USER", "NATS_PASSWORD", "NATS_NKEY", "NEX_NAMESPACE", "NEX_LOGLEVEL" })
        {
            info.Environment.Remove(name);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(key);
                }
                else
                {
                    info.Environment[key] = value;
                }
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => Append(cli._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(cli._stderr, e.Data);
        process.Exited += (_, _) => cli._exited.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs to completion (killed after <paramref name="timeout"/>).</summary>
    public static async Task<CliProcess> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var cli = Start(args, environment);
        await cli.WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(60));
        return cli;
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(Exited, Task.Delay(timeout)) != Exited)
        {
            _process.Kill(entireProcessTree: true);
            await Exited;
            throw new TimeoutException($"nex did not exit within {timeout}; stdout:\n{StdOut}\nstderr:\n{StdErr}");
        }

        _process.WaitForExit(); // flush the output readers
    }

    /// <summary>Waits until stdout or stderr contains <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!StdOut.Contains(text, StringComparison.Ordinal) && !StdErr.Contains(text, StringComparison.Ordinal))
        {
            if (Exited.IsCompleted)
            {
                throw new InvalidOperationException($"nex exited before printing '{text}'; stdout:\n{StdOut}\nstderr:\n{StdErr}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nex did not print '{text}' within {timeout}; stdout:\n{StdOut}\nstderr:\n{StdErr}");
            }

            await Task.Delay(50);
        }
    }

    public void Signal(int signal) => Nex.Processes.Posix.Signal(_process.Id, signal);

    public async ValueTask DisposeAsync()
    {
        if (!Exited.IsCompleted)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            await Task.WhenAny(Exited, Task.Delay(5000));
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (target)
        {
            target.AppendLine(line);
        }
    }
}
