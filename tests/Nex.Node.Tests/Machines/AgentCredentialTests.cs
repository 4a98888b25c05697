using Nex.Node.Config;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>
/// A workload must not find its agent's NATS seed (issue 15 #4): not in the agent's environment or
/// command line, not in its own environment or descriptors, not in a metadata file. With the seed it
/// could connect to the internal NATS as its agent.
/// </summary>
public sealed class AgentCredentialTests(NatsServerFixture nats)
{
    // Looks everywhere a same-user workload could, and prints what it found on one line. A user seed is
    // "SU" and base32; the variable's name is looked for too.
    internal const string Probe =
        "hits=''; readable=''\n" +
        "for f in /proc/$PPID/environ /proc/1/environ /proc/self/environ /proc/$PPID/cmdline /proc/1/cmdline /run/nex/metadata.json /nex/metadata.json; do\n" +
        "  if c=$(tr '\\0' '\\n' < \"$f\" 2>/dev/null); then\n" +
        "    readable=\"$readable,$f\"\n" +
        "    echo \"$c\" | grep -Eq 'SU[A-Z2-7]{40,}' && hits=\"$hits,$f\"\n" +
        "    echo \"$c\" | grep -q 'NKEY_SEED=' && hits=\"$hits,$f(variable)\"\n" +
        "  fi\n" +
        "done\n" +
        "fds=''\n" +
        "for fd in /proc/self/fd/*; do\n" +
        "  t=$(readlink \"$fd\"); [ -f \"$t\" ] && grep -Eq 'SU[A-Z2-7]{40,}' \"$t\" && hits=\"$hits,$fd\"\n" +
        "  case \"${fd##*/}:$t\" in [012]:*) ;; *pipe:*|*socket:*) fds=\"$fds,${fd##*/}:$t\" ;; esac\n" +
        "done\n" +
        "maps=$(head -c 1 /proc/$PPID/maps >/dev/null 2>&1 && echo readable || echo denied)\n" +
        "echo \"probe hits=$hits readable=$readable inherited=$fds nexenv=$(env | grep -c '^NEX_') agentmaps=$maps end\"\n" +
        "exec sleep 60";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NoSandbox_TheWorkloadFindsNoSeed_InTheAgentsEnvironment_ItsOwn_OrItsDescriptors()
    {
        await using var node = await TestNode.StartAsync(nats.Url);
        var facts = await RunProbeAsync(node);

        Assert.Equal("", facts["hits"]);
        Assert.Contains("/proc/self/environ", facts["readable"], StringComparison.Ordinal); // the probe did look
        Assert.Equal("0", facts["nexenv"]);
        Assert.Equal("", facts["inherited"]); // no pipe or socket beyond its own stdin, stdout and stderr
        if (Nex.Processes.Posix.EffectiveUserId != 0)
        {
            // Same user, no CAP_SYS_PTRACE: the non-dumpable agent's memory map is closed to it.
            Assert.Equal("denied", facts["agentmaps"]);
        }
    }

    [Fact]
    public async Task Container_TheWorkloadFindsNoSeed_InTheMetadataFile_TheAgentsProc_OrItsDescriptors()
    {
        Assert.SkipWhen(SandboxImages.NotRoot is not null, SandboxImages.NotRoot ?? "");
        var rootfs = await SandboxImages.RootfsAsync(Ct);
        await using var node = await TestNode.StartAsync(nats.Url, c => c with
        {
            Sandbox = "container",
            RootFsFilePath = rootfs,
            MachineTemplate = new MachineTemplate { MemSizeMib = 256, VcpuCount = 1 },
        });
        var facts = await RunProbeAsync(node);

        Assert.Equal("", facts["hits"]);
        Assert.Contains("/run/nex/metadata.json", facts["readable"], StringComparison.Ordinal); // still there, without the seed
        Assert.DoesNotContain("/proc/1/environ", facts["readable"], StringComparison.Ordinal); // the agent is pid 1, and not dumpable
        Assert.Equal("denied", facts["agentmaps"]);
        Assert.Equal("0", facts["nexenv"]);
        Assert.Equal("", facts["inherited"]);
    }

    internal static async Task<Dictionary<string, string>> RunProbeAsync(TestNode node)
    {
        await using var logs = await Recorder.StartAsync(node.Connection, "$NEX.logs.>");
        var location = await Artifacts.UploadAsync(node.Connection, "P" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant(), "probe", Artifacts.Script(Probe));
        var (id, error) = await Wire.DeployAsync(node.Connection, node.NodeId, Wire.DeployJson(node.NodeId, node.Node.PublicXKey, name: "probe", location: location));
        Assert.True(error is null, error); // the agent connected with the seed it was handed

        var line = (await logs.WaitAsync((s, b) => s.EndsWith("." + id, StringComparison.Ordinal) && b.GetProperty("text").GetString()!.StartsWith("probe ", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the probe line"))
            .Body.GetProperty("text").GetString()!;
        TestContext.Current.SendDiagnosticMessage(line);
        return line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => p.Contains('=', StringComparison.Ordinal))
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }
}
