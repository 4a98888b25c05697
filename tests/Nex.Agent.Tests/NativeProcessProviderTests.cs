using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Agent.Tests;

public sealed class NativeProcessProviderTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("nex-native-");
    private readonly NatsConnection _unusedConnection = new();
    private readonly CapturedOutput _output = new();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _unusedConnection.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public void StartInfo_ArtifactThenArgv_OnlyTheRequestEnvironment_KeysUpperCased()
    {
        var request = new AgentDeployRequest
        {
            Argv = ["--port", "8080"],
            Environment = new Dictionary<string, string> { ["greeting"] = "hi", ["Mixed_Case"] = "x", ["PATH"] = "/bin" },
        };
        var info = NativeProcessProvider.BuildStartInfo("/tmp/workload-x", request);
        Assert.Equal("/tmp/workload-x", info.FileName);
        Assert.Equal(["--port", "8080"], info.ArgumentList);
        Assert.Equal(
            [new("GREETING", "hi"), new("MIXED_CASE", "x"), new("PATH", "/bin")],
            info.Environment.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value!)));
        Assert.True(info.RedirectStandardOutput);
        Assert.True(info.RedirectStandardError);
        Assert.True(info.RedirectStandardInput);
    }

    [Fact]
    public async Task ExitCode_AndTheWholeOutput_AreReported_NoInheritedEnvironment()
    {
        // Its exec-time environment is exactly the request's; then 300 000 bytes on stdout in many writes
        // and an immediate exit: nothing may be lost.
        var provider = Create(
            "#!/bin/sh\necho \"args:$1:$2 home:${HOME:-none} g:$G\"\n/bin/cat /proc/$$/environ\necho\ni=0\nwhile [ $i -lt 300 ]; do printf '%01000d' 0; i=$((i+1)); done\necho err >&2\nexit 7\n",
            new AgentDeployRequest { WorkloadName = "w", Argv = ["a b", "c"], Environment = new Dictionary<string, string> { ["g"] = "1" } });
        await using (provider)
        {
            await provider.DeployAsync(Token);
            Assert.True(provider.ProcessId > 0);
            Assert.Equal(7, await provider.Completion.WaitAsync(TimeSpan.FromSeconds(10), Token));
            var stdout = _output.Text(WorkloadStream.StandardOutput);
            Assert.StartsWith("args:a b:c home:none g:1\nG=1\0\n", stdout, StringComparison.Ordinal);
            Assert.Equal(300_000, stdout.Count(c => c == '0'));
            Assert.Equal("err\n", _output.Text(WorkloadStream.StandardError));
            Assert.False(ProcessGroupProbe.IsRunning(provider.ProcessId));

            // Undeploy after the exit is harmless.
            await provider.UndeployAsync(Token);
        }
    }

    [Fact]
    public async Task OutputIsForwardedPerRead_NotPerLine()
    {
        var provider = Create("#!/bin/sh\nprintf 'part'\nsleep 0.3\nprintf 'ial\\nline two\\n'\n", new AgentDeployRequest { WorkloadName = "w", Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" } });
        await using (provider)
        {
            await provider.DeployAsync(Token);
            Assert.Equal(0, await provider.Completion.WaitAsync(TimeSpan.FromSeconds(10), Token));
            Assert.Equal(["part", "ial\nline two\n"], _output.Chunks(WorkloadStream.StandardOutput));
        }
    }

    [Fact]
    public async Task Undeploy_EndsAStubbornTree_ThenCompletes()
    {
        var provider = Create(AgentContractTests.StubbornScript, new AgentDeployRequest { WorkloadName = "w", Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" } }, grace: TimeSpan.FromMilliseconds(200));
        await using (provider)
        {
            await provider.DeployAsync(Token);
            var pids = await WaitForPidsAsync();
            Assert.All(pids, pid => Assert.True(ProcessGroupProbe.IsRunning(pid)));
            await provider.UndeployAsync(Token);
            Assert.All(pids, pid => Assert.False(ProcessGroupProbe.IsRunning(pid)));
            Assert.Empty(ProcessGroupProbe.LiveMembers(provider.ProcessId));
            Assert.True(provider.Completion.IsCompleted);
            await provider.UndeployAsync(Token);
        }
    }

    [Fact]
    public async Task ABackgroundChildLeftBehind_IsEndedWithTheWorkload()
    {
        var provider = Create("#!/bin/sh\nsleep 600 &\necho \"pids $$ $!\"\nexit 0\n", new AgentDeployRequest { WorkloadName = "w", Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin" } });
        await using (provider)
        {
            await provider.DeployAsync(Token);
            Assert.Equal(0, await provider.Completion.WaitAsync(TimeSpan.FromSeconds(10), Token));
            var pids = await WaitForPidsAsync();
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (ProcessGroupProbe.IsRunning(pids[1]) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, Token);
            }

            Assert.False(ProcessGroupProbe.IsRunning(pids[1]));
        }
    }

    [Fact]
    public async Task AnArtifactThatCannotRun_ExitsNonZero()
    {
        var provider = Create("this is not a program\n", new AgentDeployRequest { WorkloadName = "w" });
        await using (provider)
        {
            await provider.DeployAsync(Token);
            Assert.NotEqual(0, await provider.Completion.WaitAsync(TimeSpan.FromSeconds(10), Token));
        }
    }

    [Fact]
    public async Task Triggers_AreNotSupported()
    {
        var provider = Create("#!/bin/sh\n", new AgentDeployRequest { WorkloadName = "w" });
        await using (provider)
        {
            Assert.False(provider.SupportsTriggers);
            var ex = await Assert.ThrowsAsync<NotSupportedException>(() => provider.ExecuteAsync("s", ReadOnlyMemory<byte>.Empty, Token));
            Assert.Equal("Native execution provider does not support execution via trigger subjects", ex.Message);
        }
    }

    [Theory]
    [InlineData("oci", "oci workloads run only in the container sandbox, whose root is the image")]
    [InlineData("elf", "invalid workload type provided: elf")]
    public void Factory_RejectsWhatItCannotRun(string type, string expected)
    {
        var ex = Assert.Throws<WorkloadProviderException>(() => new WorkloadProviderFactory().Create(Context("/x", new AgentDeployRequest { WorkloadType = type })));
        Assert.Equal(expected, ex.Message);
    }

    [Theory]
    [InlineData("native")]
    [InlineData("Native")]
    public async Task Factory_BuildsNative(string type)
    {
        await using var provider = new WorkloadProviderFactory().Create(Context("/x", new AgentDeployRequest { WorkloadType = type }));
        Assert.IsType<NativeProcessProvider>(provider);
    }

    private NativeProcessProvider Create(string script, AgentDeployRequest request, TimeSpan? grace = null)
    {
        var path = _dir.File("workload-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, script);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new NativeProcessProvider(Context(path, request, grace));
    }

    private WorkloadContext Context(string path, AgentDeployRequest request, TimeSpan? grace = null) => new()
    {
        AgentId = "agent1",
        Request = request,
        ArtifactPath = path,
        Output = _output,
        Connection = _unusedConnection,
        StopGrace = grace ?? TimeSpan.FromSeconds(1),
        Loggers = NullLoggerFactory.Instance,
        Time = TimeProvider.System,
    };

    private async Task<int[]> WaitForPidsAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var text = _output.Text(WorkloadStream.StandardOutput);
            if (text.StartsWith("pids ", StringComparison.Ordinal) && text.EndsWith('\n'))
            {
                return [.. text.Trim().Split(' ').Skip(1).Select(int.Parse)];
            }

            await Task.Delay(20, Token);
        }

        throw new TimeoutException("the workload did not print its pids");
    }

    private sealed class CapturedOutput : IWorkloadOutput
    {
        private readonly ConcurrentQueue<(WorkloadStream Stream, string Text)> _chunks = new();

        public ValueTask WriteAsync(WorkloadStream stream, string text, CancellationToken cancellationToken)
        {
            _chunks.Enqueue((stream, text));
            return ValueTask.CompletedTask;
        }

        public string[] Chunks(WorkloadStream stream) => [.. _chunks.Where(c => c.Stream == stream).Select(c => c.Text)];

        public string Text(WorkloadStream stream) => string.Concat(Chunks(stream));
    }
}
