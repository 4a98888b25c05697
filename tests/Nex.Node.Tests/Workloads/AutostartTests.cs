using Nex.Client;
using Nex.Nats;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Workloads;

/// <summary>Autostart (spec §4.12): configured workloads come up with the node; a bad entry is skipped.</summary>
public sealed class AutostartTests(NatsServerFixture nats)
{
    [Fact]
    public async Task ConfiguredWorkloads_StartWithTheNode_AndABadEntryIsSkipped()
    {
        var bucket = "A" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        await using (var uploader = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.Url }, TestContext.Current.CancellationToken))
        {
            await Artifacts.UploadAsync(uploader, bucket, "greeter", Artifacts.Script("echo \"hello $WHO\"\n/bin/sleep 300"));
        }

        var autostart = new AutostartConfig
        {
            Workloads =
            [
                new AutostartDeployRequest { Name = "missing", Namespace = "auto", Type = "native", Location = $"nats://{bucket}/nothere" },
                new AutostartDeployRequest { Name = "greeter", Namespace = "auto", Type = "native", Location = $"nats://{bucket}/greeter", Environment = new Dictionary<string, string> { ["WHO"] = "world" } },
            ],
        };
        await using var node = await TestNode.StartAsync(nats.Url, c => c with { Autostart = autostart, ValidIssuers = [Nex.Security.NexKeys.CreateAccount().GetPublicKey()] });
        var client = new NexClient(node.Connection, new NexClientOptions { Namespace = "auto", Timeout = TimeSpan.FromSeconds(2) });
        var deadline = DateTime.UtcNow.AddSeconds(20);
        InfoResponse info;
        do
        {
            await Task.Delay(200, TestContext.Current.CancellationToken);
            info = await client.InfoAsync(node.NodeId, TestContext.Current.CancellationToken);
        }
        while (info.Machines.Count == 0 && DateTime.UtcNow < deadline);

        // The allow-list does not apply to the node's own issuer, as in 0.2.
        var machine = Assert.Single(info.Machines);
        Assert.Equal("greeter", machine.Workload.Name);
        Assert.Equal("auto", machine.Namespace);
    }
}
