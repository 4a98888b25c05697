using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using Nex.Processes;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

/// <summary>
/// <c>nex node up</c> in a terminal, stopped with Ctrl-C: the node runs on a pseudo-terminal (util-linux
/// <c>script</c>) and the test sends SIGINT to the terminal's foreground process group, which is what the
/// terminal does on Ctrl-C.
/// </summary>
public sealed class CtrlCTests
{
    [Fact]
    public async Task CtrlC_OnNodeUpInATerminal_StopsInOrder_PublishesNodeStopped_LeavesNoChild()
    {
        if (ChildProcessLauncher.FindOnPath("script") is not { } script)
        {
            Assert.Skip("util-linux script is not installed");
            return;
        }

        using var home = new TempDirectory();
        var port = CliTestSupport.FreePort();
        var url = $"nats://127.0.0.1:{port}";
        await File.WriteAllTextAsync(home.File("config.json"), $$"""{ "pid_filepath": "{{home.File("nex.pid")}}" }""", TestContext.Current.CancellationToken);
        // A terminal's foreground job gets SIGINT; a test run started in the background of a script inherits
        // it ignored (and so would the node), so the command restores the default as a terminal's shell does.
        var command = $"env --default-signal=INT dotnet {CliProcess.NexDll} node up --config {home.File("config.json")} --embedded-port {port.ToString(CultureInfo.InvariantCulture)}";
        var info = new ProcessStartInfo(script) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-qfec", command, "/dev/null" })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var name in new[] { "NATS_URL", "NATS_CONTEXT", "NATS_CREDS", "NATS_USER", "NATS_PASSWORD", "NATS_NKEY", "NEX_NAMESPACE", "NEX_LOGLEVEL" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["HOME"] = home.Path;
        info.Environment["NEX_HOME"] = home.Path;
        using var terminal = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        terminal.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        terminal.BeginOutputReadLine();
        string Output() { lock (output) { return output.ToString(); } }

        int nodePid = 0;
        try
        {
            await CliTestSupport.WaitUntilAsync(() => Output().Contains(" is up on ", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "the node to start");
            // The node is script's child when the shell execs its one command, a grandchild when it forks; the
            // search is breadth first, so the node comes before any dotnet process of its own.
            var dotnets = CliTestSupport.Descendants(terminal.Id, "dotnet");
            Assert.True(dotnets.Count > 0, $"no dotnet process under the terminal; output:\n{Output()}");
            nodePid = dotnets[0];
            var family = ProcessTree.Descendants(nodePid);
            Assert.NotEmpty(CliTestSupport.Children(nodePid, "nats-server"));

            await using var nats = new NatsConnection(new NatsOpts { Url = url });
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var sub = await nats.SubscribeCoreAsync<byte[]>("$NEX.events.system.node_stopped", cancellationToken: TestContext.Current.CancellationToken);
            _ = Task.Run(async () =>
            {
                await foreach (var _ in sub.Msgs.ReadAllAsync(TestContext.Current.CancellationToken))
                {
                    stopped.TrySetResult();
                }
            }, TestContext.Current.CancellationToken);
            await nats.PingAsync(TestContext.Current.CancellationToken);

            // The foreground process group of the terminal: the node's (a non-interactive shell keeps its child in its group).
            var pgid = int.Parse(File.ReadAllText($"/proc/{nodePid}/stat").Split(") ")[1].Split(' ')[2], CultureInfo.InvariantCulture);
            var watch = Stopwatch.StartNew();
            Assert.True(Posix.SignalGroup(pgid, Posix.SIGINT));
            await CliTestSupport.WaitUntilAsync(() => !Posix.IsAlive(nodePid) || IsZombie(nodePid), TimeSpan.FromSeconds(10), "the node to exit after Ctrl-C");
            watch.Stop();

            // The node published it before it exited; its delivery to this subscriber may trail the exit.
            Assert.True(await Task.WhenAny(stopped.Task, Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken)) == stopped.Task, $"no node_stopped event; output:\n{Output()}");
            Assert.False(Output().Contains("Shutdown step failed", StringComparison.Ordinal), $"a shutdown step failed; output:\n{Output()}");
            await CliTestSupport.WaitUntilAsync(() => family.All(pid => !Posix.IsAlive(pid) || IsZombie(pid)), TimeSpan.FromSeconds(5), "every child of the node to end");
            TestContext.Current.SendDiagnosticMessage($"Ctrl-C stop took {watch.ElapsedMilliseconds} ms");
        }
        finally
        {
            if (nodePid > 0)
            {
                Posix.Signal(nodePid, Posix.SIGKILL);
            }

            if (!terminal.HasExited)
            {
                terminal.Kill(entireProcessTree: true);
            }
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return true;
        }
    }
}
