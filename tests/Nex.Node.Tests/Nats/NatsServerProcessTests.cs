using Nex.Client;
using Nex.Nats;
using Nex.Node.Nats;
using Xunit;

namespace Nex.Node.Tests.Nats;

public sealed class NatsServerProcessTests
{
    [Fact]
    public async Task Start_ReportsItsRealPort_AndStopsCleanly()
    {
        var server = await NatsServerProcess.StartAsync(new NatsServerOptions(), cancellationToken: TestContext.Current.CancellationToken);
        Assert.InRange(server.Port, 1, 65535);
        Assert.Equal($"nats://127.0.0.1:{server.Port}", server.ClientUrl);
        Assert.True(await NexConnection.IsReachableAsync(server.ClientUrl, TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken));
        var pid = server.ProcessId;
        await server.DisposeAsync();
        Assert.True(server.HasExited);
        Assert.False(Nex.Processes.Posix.IsAlive(pid));
    }

    [Fact]
    public async Task GoMaxProcs_ReachesTheServersEnvironment_AndIsLeftOutWhenNotAsked()
    {
        await using var limited = await NatsServerProcess.StartAsync(new NatsServerOptions { GoMaxProcs = 1, JetStream = false }, cancellationToken: TestContext.Current.CancellationToken);
        await using var plain = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = false }, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("GOMAXPROCS=1", EnvironmentOf(limited.ProcessId));
        Assert.Equal(Environment.GetEnvironmentVariable(NatsServerProcess.GoMaxProcsVariable) is { } inherited ? [$"GOMAXPROCS={inherited}"] : [], EnvironmentOf(plain.ProcessId).Where(e => e.StartsWith("GOMAXPROCS=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task GoMaxProcs_BelowOne_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => NatsServerProcess.StartAsync(new NatsServerOptions { GoMaxProcs = 0 }, cancellationToken: TestContext.Current.CancellationToken));
    }

    internal static string[] EnvironmentOf(int pid) => File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task BadConfig_FailsWithTheServersOwnWords()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "this is { not a nats config", TestContext.Current.CancellationToken);
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => NatsServerProcess.StartAsync(new NatsServerOptions { ConfigFile = file }, cancellationToken: TestContext.Current.CancellationToken));
            Assert.Contains("nats-server", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Reload_ReturnsOnceTheServerConfirms_AndReportsARejectedConfig()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "listen: 127.0.0.1:-1\nmax_payload: 1048576\n", ct);
            await using var server = await NatsServerProcess.StartAsync(new NatsServerOptions { ConfigFile = file, Host = null, Port = null }, cancellationToken: ct);
            for (var i = 0; i < 3; i++)
            {
                // Back to back, each waits for its own confirmation.
                await File.WriteAllTextAsync(file, $"listen: 127.0.0.1:{server.Port}\nmax_payload: {1048576 - i}\n", ct);
                await server.ReloadAsync(TimeSpan.FromSeconds(10), ct);
            }

            await File.WriteAllTextAsync(file, $"listen: 127.0.0.1:{server.Port}\nmax_payload: \"lots\"\n", ct);
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => server.ReloadAsync(TimeSpan.FromSeconds(10), ct));
            Assert.StartsWith("nats-server rejected its new configuration", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
