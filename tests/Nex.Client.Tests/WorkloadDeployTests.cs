using System.Text;
using Nex.Protocol;
using Nex.Security;
using Nex.Testing;
using Xunit;

namespace Nex.Client.Tests;

/// <summary>The library path a program (not the CLI) takes: upload, DEPLOY, STOP right away, against a real node.</summary>
public sealed class WorkloadDeployTests(NatsServerFixture nats)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UploadDeployAndStopAtOnce_TheStopTokenPassesTheAntiReplayRule()
    {
        await using var node = await TestNode.StartAsync(nats.Url, clientTimeout: TimeSpan.FromSeconds(30));
        using var issuer = NexKeys.CreateAccount();
        using var xkey = NexKeys.CreateCurve();
        var bucket = "LIB" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var upload = await new ArtifactStore(node.Connection).UploadAsync(bucket, "sleeper", new MemoryStream(Encoding.UTF8.GetBytes("#!/bin/sh\nexec sleep 600\n")), cancellationToken: Ct);

        var info = await node.Client.InfoAsync(node.NodeId, Ct);
        var deploy = WorkloadRequests.BuildDeploy(
            new DeploySpec
            {
                Location = upload.Location,
                Name = "sleeper",
                Type = NexClient.WorkloadTypeForFile("sleeper"),
                Environment = new Dictionary<string, string> { ["A"] = "1" },
                Hash = upload.Sha256,
            },
            node.NodeId,
            info.PublicXkey,
            issuer,
            xkey);
        var run = await node.Client.DeployAsync(node.NodeId, deploy, Ct);
        Assert.True(run.Started);
        Assert.Equal("sleeper", run.Name);
        Assert.Equal(issuer.GetPublicKey(), run.Issuer);
        Assert.Equal(upload.Sha256, Assert.Single((await node.Client.InfoAsync(node.NodeId, Ct)).Machines).Workload.Hash);

        var stop = await WorkloadRequests.BuildStopAsync(node.NodeId, run.Id, "sleeper", issuer, cancellationToken: Ct);
        var stopped = await node.Client.StopAsync(node.NodeId, stop, Ct);
        Assert.True(stopped.Stopped);
        Assert.Equal(run.Id, stopped.Id);
        Assert.Empty((await node.Client.InfoAsync(node.NodeId, Ct)).Machines);
    }
}
