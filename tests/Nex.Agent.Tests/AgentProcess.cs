using System.Diagnostics;
using System.Text;

namespace Nex.Agent.Tests;

/// <summary>
/// The real agent as a child process: <c>dotnet nex-agent.dll</c> (copied next to the tests), or the
/// executable named by <c>NEX_AGENT_UNDER_TEST</c> (e.g. a NativeAOT build) when that is set.
/// </summary>
internal sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AgentProcess(Process process) => _process = process;

    public static string AgentDll => Path.Combine(AppContext.BaseDirectory, "nex-agent.dll");

    public static string? AgentUnderTest => Environment.GetEnvironmentVariable("NEX_AGENT_UNDER_TEST") is { Length: > 0 } path ? path : null;

    public int Pid => _process.Id;

    public Task Exited => _exited.Task;

    public int ExitCode => _process.ExitCode;

    /// <summary>stdout and stderr, line by line.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static AgentProcess Start(IReadOnlyDictionary<string, string?> environment)
    {
        var info = new ProcessStartInfo(AgentUnderTest ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        if (AgentUnderTest is null)
        {
            info.ArgumentList.Add(AgentDll);
        }

        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("NEX_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

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

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var agent = new AgentProcess(process);
        process.OutputDataReceived += (_, e) => agent.Append(e.Data);
        process.ErrorDataReceived += (_, e) => agent.Append(e.Data);
        process.Exited += (_, _) => agent._exited.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return agent;
    }

    /// <summary>Writes <paramref name="text"/> to the agent's stdin and closes it (how the node hands over the seed).</summary>
    public async Task WriteStandardInputAndCloseAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        _process.StandardInput.Close();
    }

    public void Signal(int signal) => Nex.Processes.Posix.Signal(_process.Id, signal);

    /// <summary>Waits for the exit and returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(Exited, Task.Delay(timeout)) != Exited)
        {
            throw new TimeoutException($"the agent did not exit within {timeout}; output:\n{Output}");
        }

        _process.WaitForExit(); // drain the output readers
        return _process.ExitCode;
    }

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

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
