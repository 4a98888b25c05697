using System.Globalization;
using System.Text.Json;
using Nex.Testing;
using Xunit;

namespace Nex.Cli.Tests.Fleet;

/// <summary>A <c>nex node up</c> process as the quick start runs it: its own NEX_HOME, an embedded nats-server with JetStream.</summary>
internal static class EmbeddedNode
{
    public static Dictionary<string, string?> Env(TempDirectory home) => new() { ["NEX_HOME"] = home.Path, ["HOME"] = home.Path };

    // `nex node up` on an embedded nats-server (with JetStream), its config given extra JSON members.
    public static async Task<(CliProcess Node, string Url, string NodeId)> StartAsync(TempDirectory home, string extraConfig, int? port = null)
    {
        port ??= CliTestSupport.FreePort();
        await File.WriteAllTextAsync(home.File("config.json"), $$"""{ "pid_filepath": "{{home.File("nex.pid")}}"{{extraConfig}} }""", TestContext.Current.CancellationToken);
        var node = CliProcess.Start(["node", "up", "--config", home.File("config.json"), "--embedded-port", port.Value.ToString(CultureInfo.InvariantCulture)], Env(home));
        try
        {
            await node.WaitForOutputAsync(" is up on ", TimeSpan.FromSeconds(60));
            var url = $"nats://127.0.0.1:{port}";
            var ls = await CliProcess.RunAsync(["node", "ls", "-s", url, "--json"], Env(home));
            using var nodes = JsonDocument.Parse(ls.StdOut);
            return (node, url, Assert.Single(nodes.RootElement.EnumerateArray()).GetProperty("node_id").GetString()!);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }
}
