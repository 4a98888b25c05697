using Nex.Nats;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

public sealed class NexConnectionOptionsContextTests
{
    [Fact]
    public void Context_FillsWhatFlagsLeaveOpen_AndSelectedContextApplies()
    {
        using var dir = new TempDirectory();
        var contexts = Path.Combine(dir.Path, "nats", "context");
        Directory.CreateDirectory(contexts);
        File.WriteAllText(Path.Combine(contexts, "prod.json"), """{"url":"nats://prod:4222","user":"u","password":"p","creds":"~/x.creds","description":"ignored"}""");
        File.WriteAllText(Path.Combine(dir.Path, "nats", "context.txt"), "prod\n");

        var named = new NexConnectionOptions { Context = "prod", User = "flag-user" }.ResolveContext(contexts);
        Assert.Equal("nats://prod:4222", named.Server);
        Assert.Equal("flag-user", named.User);
        Assert.Equal("p", named.Password);
        Assert.EndsWith("/x.creds", named.CredsFile, StringComparison.Ordinal);
        Assert.DoesNotContain("~", named.CredsFile, StringComparison.Ordinal);

        var selected = new NexConnectionOptions().ResolveContext(contexts);
        Assert.Equal("nats://prod:4222", selected.Server);

        var explicitServer = new NexConnectionOptions { Server = "nats://other:4222" }.ResolveContext(contexts);
        Assert.Null(explicitServer.User); // a flag-given server ignores the selected context
    }

    [Fact]
    public void UnknownContext_IsAClearError()
    {
        using var dir = new TempDirectory();
        var ex = Assert.Throws<NexClientException>(() => new NexConnectionOptions { Context = "nope" }.ResolveContext(dir.Path));
        Assert.StartsWith("unknown NATS context 'nope'", ex.Message, StringComparison.Ordinal);
    }
}
