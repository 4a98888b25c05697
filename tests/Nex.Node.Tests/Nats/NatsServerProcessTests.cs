using Nex.Client;
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
}
