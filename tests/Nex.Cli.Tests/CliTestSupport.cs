using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Nex.Nats;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests;

internal static class CliTestSupport
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Child processes of <paramref name="pid"/> whose command name is <paramref name="comm"/>.</summary>
    public static IReadOnlyList<int> Children(int pid, string comm)
    {
        var result = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var child))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var name = stat[(stat.IndexOf('(') + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                if (name == comm && int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
                {
                    result.Add(child);
                }
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    /// <summary>
    /// Descendants of <paramref name="pid"/> whose command name is <paramref name="comm"/>: a shell between them
    /// (one that forks rather than execs its last command, as some do) does not hide the process.
    /// </summary>
    public static IReadOnlyList<int> Descendants(int pid, string comm)
    {
        var result = new List<int>();
        foreach (var descendant in Nex.Processes.ProcessTree.Descendants(pid))
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{descendant}/stat");
                if (stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')] == comm)
                {
                    result.Add(descendant);
                }
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Publishes a probe event and a probe log line until each of <paramref name="watchers"/> (<c>nex events</c>,
    /// <c>nex logs</c>) has printed <paramref name="marker"/>: they print nothing when they have subscribed.
    /// </summary>
    public static async Task UntilWatchersSeeAProbeAsync(string url, string marker, params CliProcess[] watchers)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var conn = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = url }, ct);
        var cloudEvent = CloudEvent.Create("probe-" + marker, EventTypes.WorkloadDeployed, DateTimeOffset.UtcNow, new WorkloadDeployedEvent { WorkloadName = "probe-" + marker }, NexJson.Context.WorkloadDeployedEvent, "default");
        var eventBytes = JsonSerializer.SerializeToUtf8Bytes(cloudEvent, NexJson.Context.CloudEvent);
        var logBytes = JsonSerializer.SerializeToUtf8Bytes(new RawLog { Text = "probe-" + marker, Level = LogLevels.Info, Id = "vm1" }, NexJson.Context.RawLog);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!watchers.All(w => w.StdOut.Contains("probe-" + marker, StringComparison.Ordinal)))
        {
            var output = string.Join("\n", watchers.Select(w => w.StdOut + w.StdErr));
            Assert.True(DateTime.UtcNow < deadline, $"no probe seen; output:\n{output}");
            Assert.False(watchers.Any(w => w.Exited.IsCompleted && !w.StdOut.Contains("probe-" + marker, StringComparison.Ordinal)), $"a watcher exited; output:\n{output}");
            await conn.PublishAsync("$NEX.events.default.workload_deployed", eventBytes, cancellationToken: ct);
            await conn.PublishAsync("$NEX.logs.default.Nprobe.probe.vm1", logBytes, cancellationToken: ct);
            await Task.Delay(100, ct);
        }
    }

    /// <summary>The process and its descendants, each as pid, name, state and where it sleeps: what a hung test shows.</summary>
    public static string Describe(int pid) => string.Join(", ", new[] { pid }.Concat(Nex.Processes.ProcessTree.Descendants(pid)).Select(p =>
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{p}/stat");
            var close = stat.LastIndexOf(')');
            return $"{p} {stat[(stat.IndexOf('(') + 1)..close]} {stat[close + 2]} {File.ReadAllText($"/proc/{p}/wchan")}";
        }
        catch (IOException)
        {
            return $"{p} gone";
        }
    }));
}
