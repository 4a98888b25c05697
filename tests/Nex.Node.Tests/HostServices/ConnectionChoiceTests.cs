using NATS.Client.Core;
using Nex.Node.Config;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>Which NATS connection host services use (spec §6.5, §11 #15).</summary>
public sealed class ConnectionChoiceTests(NatsServerFixture nats) : HostServicesTestBase(nats)
{
    [Fact]
    public async Task DefaultConfig_EmptyCredentials_ReusesMainConnection()
    {
        var hs = await CreateAsync();
        Assert.Same(Main, hs.Connection);
        Assert.True(hs.ReusesMainConnection);
        Assert.Null(hs.TriggerConnection);
        Assert.Equal(["http", "kv", "messaging", "objectstore"], hs.EnabledServices.Order());
    }

    [Fact]
    public async Task NullConfig_ReusesMainConnection_AllServices()
    {
        var hs = await CreateAsync(nullConfig: true);
        Assert.Same(Main, hs.Connection);
        Assert.Equal(4, hs.EnabledServices.Count);
    }

    [Fact]
    public async Task ConfigUrlElsewhere_GetsOwnConnection_WithNodeCredentials()
    {
        var other = NatsUrl.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);
        var hs = await CreateAsync(config: HostServicesConfig.Default with { NatsUrl = other });
        Assert.NotSame(Main, hs.Connection);
        Assert.False(hs.ReusesMainConnection);
        Assert.Equal("nex-hostservices", hs.Connection.Opts.Name);
        AssertOk(await Call(hs, HostServicesProtocol.Kv, "keys"));
    }

    [Fact]
    public async Task RequestHostServices_GetsOwnConnection()
    {
        var hs = await CreateAsync(requestHostServices: new NatsJwtConnectionInfo { NatsUrl = NatsUrl });
        Assert.NotSame(Main, hs.Connection);
        Assert.Equal("nex-hostservices", hs.Connection.Opts.Name);
        Assert.Equal(NatsConnectionState.Open, hs.Connection.ConnectionState);
    }

    [Fact]
    public async Task TriggerConnection_IsSeparate_AndCarriesMessaging()
    {
        var hs = await CreateAsync(trigger: new NatsJwtConnectionInfo { NatsUrl = NatsUrl });
        Assert.NotNull(hs.TriggerConnection);
        Assert.NotSame(Main, hs.TriggerConnection);
        Assert.Equal("workload-trigger-subscription", hs.TriggerConnection.Opts.Name);
        Assert.Same(Main, hs.Connection);

        var subject = "hs.trigger." + Guid.NewGuid().ToString("N");
        await using var sub = await Main.SubscribeCoreAsync<byte[]>(subject, cancellationToken: Ct);
        await Main.PingAsync(Ct);
        AssertOk(await Call(hs, HostServicesProtocol.Messaging, "publish", Headers((HostServicesProtocol.SubjectHeader, subject)), [5]));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        Assert.Equal([5], (await sub.Msgs.ReadAsync(timeout.Token)).Data);
    }

    [Fact]
    public async Task Dispose_ClosesOwnConnections_NeverTheMainOne()
    {
        var hs = await CreateAsync(
            requestHostServices: new NatsJwtConnectionInfo { NatsUrl = NatsUrl },
            trigger: new NatsJwtConnectionInfo { NatsUrl = NatsUrl });
        var own = hs.Connection;
        var trigger = hs.TriggerConnection!;
        await hs.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => own.PublishAsync("hs.closed", cancellationToken: Ct).AsTask());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => trigger.PublishAsync("hs.closed", cancellationToken: Ct).AsTask());
        Assert.Equal(NatsConnectionState.Open, Main.ConnectionState);
        await hs.DisposeAsync();
    }

    [Fact]
    public async Task UnreachableServer_Throws()
    {
        await Assert.ThrowsAsync<Nex.Nats.NatsConnectException>(() => CreateAsync(
            requestHostServices: new NatsJwtConnectionInfo { NatsUrl = "nats://127.0.0.1:1" }));
    }
}
