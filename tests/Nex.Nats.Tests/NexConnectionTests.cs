using Nex.Testing;
using Xunit;

namespace Nex.Nats.Tests;

public sealed class NexConnectionTests(NatsServerFixture nats) : IClassFixture<NatsServerFixture>
{
    // Port 1 is privileged and never a NATS server: connecting there is refused at once.
    private const string Nothing = "nats://127.0.0.1:1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void UserWithoutPassword_IsAToken()
    {
        var opts = NexConnection.BuildOpts(new NexConnectionOptions { User = "s3cret" });
        Assert.Equal("s3cret", opts.AuthOpts.Token);
        Assert.Null(opts.AuthOpts.Username);
    }

    [Fact]
    public void UserAndPassword_AreUserAndPassword()
    {
        var opts = NexConnection.BuildOpts(new NexConnectionOptions { User = "u", Password = "p" });
        Assert.Equal("u", opts.AuthOpts.Username);
        Assert.Equal("p", opts.AuthOpts.Password);
    }

    [Fact]
    public void NoServer_MeansTheDefault()
    {
        Assert.Equal("nats://127.0.0.1:4222", NexConnection.BuildOpts(new NexConnectionOptions()).Url);
        Assert.False(new NexConnectionOptions().HasExplicitServer);
    }

    [Theory]
    [InlineData("nats://127.0.0.1:4222")]
    [InlineData("tls://a.example:4222, ws://b.example:8080")]
    [InlineData("127.0.0.1:4222")]
    public void InvalidServerUrl_AcceptsNatsSchemesAndBareHostPort(string servers) =>
        Assert.Null(NexConnection.InvalidServerUrl(servers));

    [Theory]
    [InlineData("htp://bad url", "htp://bad url")]
    [InlineData("nats://ok:4222,http://x:1", "http://x:1")]
    [InlineData("nats://ok:4222,", "")]
    public void InvalidServerUrl_NamesTheBadEntry_AndTheExpectedForm(string servers, string bad) =>
        Assert.Equal(
            $"invalid server URL '{bad}': expected nats://HOST:PORT (also tls://, ws://, wss://), e.g. nats://127.0.0.1:4222",
            NexConnection.InvalidServerUrl(servers));

    [Fact]
    public async Task ConnectAsync_MalformedUrl_IsANatsConnectException_BeforeAnyNetwork()
    {
        var ex = await Assert.ThrowsAsync<NatsConnectException>(() => NexConnection.ConnectAsync(new NexConnectionOptions { Server = "htp://bad url" }, Ct));
        Assert.StartsWith("invalid server URL 'htp://bad url'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_NothingListening_SaysWhereInOneLine()
    {
        var ex = await Assert.ThrowsAsync<NatsConnectException>(() => NexConnection.ConnectAsync(new NexConnectionOptions { Server = Nothing }, Ct));
        Assert.StartsWith($"cannot connect to NATS at {Nothing}: ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public async Task ConnectAsync_ARunningServer_Connects_WithTheGivenName()
    {
        await using var connection = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url, ConnectionName = "nex-test" }, Ct);
        Assert.Equal("nex-test", connection.Opts.Name);
        await connection.PingAsync(Ct);
    }

    [Fact]
    public async Task IsReachableAsync_TrueForAServer_FalseForNothing()
    {
        Assert.True(await NexConnection.IsReachableAsync(nats.Url, TimeSpan.FromSeconds(2), Ct));
        Assert.False(await NexConnection.IsReachableAsync(Nothing, TimeSpan.FromSeconds(2), Ct));
    }
}
