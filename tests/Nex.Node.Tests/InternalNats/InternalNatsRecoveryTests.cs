using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.InternalNats;

/// <summary>
/// The node survives its own internal NATS server (issue 15 item 7): killed with -9, it comes back on the
/// same port, agents and the node's links reconnect, running workloads keep running, and no listing ever
/// names a machine that is gone.
/// </summary>
public sealed class InternalNatsRecoveryTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task KillMinus9OfTheInternalServer_FunctionAnswersAgain_EssentialServiceSurvives_AndNoListingNamesADeadMachine()
    {
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { WorkloadTypes = ["native", "v8"], MachinePoolSize = 1 });
        await using var events = await Recorder.StartAsync(node.Connection, "$NEX.events.>");
        var subject = "recover." + Guid.NewGuid().ToString("N")[..8];
        var echo = await File.ReadAllBytesAsync(Path.Combine(Examples.RepositoryRoot, "examples", "js", "echo.js"), Ct);
        var function = await DeployAsync(node, "echofn", "v8", echo, triggers: [subject]);
        var service = await DeployAsync(node, "keeper", "native", Artifacts.Script("/bin/sleep 300"), essential: true);
        Assert.NotNull(await InvokeAsync(node.Connection, subject, TimeSpan.FromSeconds(10)));
        await WaitUntilAsync(() => Task.FromResult(LiveProcesses.WithCommandLine($"workload-{service}").Count > 0), "the service's process");
        var servicePid = Assert.Single(LiveProcesses.WithCommandLine($"workload-{service}"));

        // Every 100 ms until recovery: INFO and PING, and whether each machine they list still has its agent.
        using var sampling = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var stale = new List<string>();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                try
                {
                    var info = await node.Client.InfoAsync(node.NodeId, sampling.Token);
                    var ping = await node.Client.PingNodeAsync(node.NodeId, sampling.Token);
                    foreach (var machine in info.Machines.Where(m => !AgentPids(m.Id).Any()))
                    {
                        // Gone agents are removed within moments; one still listed a second later is stale.
                        await Task.Delay(1000, sampling.Token);
                        if ((await node.Client.InfoAsync(node.NodeId, sampling.Token)).Machines.Any(m => m.Id == machine.Id))
                        {
                            stale.Add($"INFO lists {machine.Id}, whose agent is gone");
                        }
                    }

                    if (ping.RunningMachines != info.Machines.Count)
                    {
                        stale.Add($"PING says {ping.RunningMachines} running, INFO lists {info.Machines.Count}");
                    }

                    await Task.Delay(100, sampling.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException or Nex.Client.NexClientException)
                {
                    // A missed answer under load is not what this watches for.
                }
            }
        }, Ct);

        var internalPid = InternalServerPid(service);
        var killedAt = Stopwatch.StartNew();
        Nex.Processes.Posix.Signal(internalPid, Nex.Processes.Posix.SIGKILL);

        bool Ours(JsonElement e) => e.GetProperty("source").GetString() == node.NodeId; // other tests' nodes share the NATS server
        await events.WaitAsync((s, b) => s.EndsWith(".node_unhealthy", StringComparison.Ordinal) && Ours(b), TimeSpan.FromSeconds(10), "node_unhealthy");
        await events.WaitAsync((s, b) => s.EndsWith(".node_healthy", StringComparison.Ordinal) && Ours(b), TimeSpan.FromSeconds(15), "node_healthy");
        var serverBack = killedAt.Elapsed;
        string? answer = null;
        while (answer is null)
        {
            Assert.True(killedAt.Elapsed < TimeSpan.FromSeconds(30), "the function never answered again");
            answer = await InvokeAsync(node.Connection, subject, TimeSpan.FromMilliseconds(250));
        }

        var functionBack = killedAt.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"internal server back after {serverBack.TotalMilliseconds:0} ms; function answering after {functionBack.TotalMilliseconds:0} ms");
        Assert.Contains(subject, answer, StringComparison.Ordinal);

        // Nothing to await here: what is checked is that nothing happens past the agents' 5 s disconnect grace
        // (agents used to exit there, taking every workload) and the node's 5 s ping cycle.
        await Task.Delay(TimeSpan.FromSeconds(7), Ct);
        await sampling.CancelAsync();
        await sampler;
        Assert.Empty(stale);
        Assert.NotEqual(internalPid, InternalServerPid(service));

        // Both workloads are the same ones, still running: nothing had to be restarted.
        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        Assert.Equal(new[] { function, service }.Order(), info.Machines.Select(m => m.Id).Order());
        Assert.All(info.Machines, m => Assert.True(m.Healthy));
        Assert.Contains(servicePid, LiveProcesses.WithCommandLine($"workload-{service}"));
        Assert.Equal(2, (await node.Client.PingNodeAsync(node.NodeId, Ct)).RunningMachines);
        Assert.DoesNotContain(events.All, e => e.Subject.EndsWith(".workload_undeployed", StringComparison.Ordinal) && e.Body.GetProperty("source").GetString()!.StartsWith(node.NodeId, StringComparison.Ordinal));

        // And the pool works again: a new deploy gets an agent.
        var later = await DeployAsync(node, "later", "native", Artifacts.Script("/bin/sleep 300"));
        Assert.Contains((await node.Client.InfoAsync(node.NodeId, Ct)).Machines, m => m.Id == later);
    }

    internal static async Task<string> DeployAsync(TestNode node, string name, string type, byte[] code, IReadOnlyList<string>? triggers = null, bool essential = false)
    {
        var location = await Artifacts.UploadAsync(node.Connection, "R" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), name, code);
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: name, type: type, location: location, triggers: triggers, essential: essential), timeout: TimeSpan.FromSeconds(20));
        Assert.True(error is null, error);
        return id!;
    }

    internal static async Task<string?> InvokeAsync(NatsConnection connection, string subject, TimeSpan timeout)
    {
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(subject, "ping"u8.ToArray(), replyOpts: new NatsSubOpts { Timeout = timeout }, cancellationToken: Ct);
            return reply.HasNoResponders ? null : Encoding.UTF8.GetString(reply.Data ?? []);
        }
        catch (NatsException)
        {
            return null;
        }
    }

    // The internal server an agent was told to use (NEX_NODE_NATS_PORT), found by the port in its config file.
    internal static int InternalServerPid(string agentId)
    {
        var agent = AgentPids(agentId).First();
        var port = File.ReadAllText($"/proc/{agent}/environ").Split('\0').First(v => v.StartsWith("NEX_NODE_NATS_PORT=", StringComparison.Ordinal))["NEX_NODE_NATS_PORT=".Length..];
        return LiveProcesses.WithCommandLine("nex-internal-nats-").First(pid =>
        {
            try
            {
                var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                var config = args[Array.IndexOf(args, "-c") + 1];
                return File.ReadAllText(config).Contains($":{port}\"", StringComparison.Ordinal);
            }
            catch (Exception ex) when (ex is IOException or IndexOutOfRangeException)
            {
                return false;
            }
        });
    }

    internal static IEnumerable<int> AgentPids(string id) =>
        LiveProcesses.WithCommandLine("nex-agent").Where(pid =>
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/comm").Trim() != "unshare"
                    && File.ReadAllText($"/proc/{pid}/environ").Contains($"NEX_WORKLOADID={id}\0", StringComparison.Ordinal);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        });

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }

            await Task.Delay(100, Ct);
        }
    }
}
