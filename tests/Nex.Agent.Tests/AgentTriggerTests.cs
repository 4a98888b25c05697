using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>
/// The trigger path a function provider (V8, WASM) plugs into, with a stand-in provider and the agent in
/// this process.
/// </summary>
public sealed class AgentTriggerTests
{
    private static readonly TimeSpan Wait = AgentContractTests.Wait;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FunctionProvider_GetsTriggers_WithTheRealSubject_AndRepliesWithRuntimeHeader()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact("function source");
        await node.AnswerHandshakesAsync(Token);
        var factory = new EchoFunctionFactory();
        var settings = new AgentSettings
        {
            WorkloadId = node.AgentId,
            NatsHost = "127.0.0.1",
            NatsPort = node.Server.Port,
            NKeySeed = node.Seed,
            NKeyPublic = NATS.NKeys.KeyPair.FromSeed(node.Seed).GetPublicKey(),
            Message = "in-process",
        };
        using var stop = new CancellationTokenSource();
        var agent = new NexAgent(settings, factory, NullLoggerFactory.Instance, TimeProvider.System);
        await using (agent)
        {
            var run = agent.RunAsync(stop.Token);
            await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");

            var request = FakeNode.NativeRequest("echo") with { WorkloadType = WorkloadTypes.V8, TriggerSubjects = ["echo.>"] };
            var deployed = await node.DeployAsync(request, Token);
            Assert.True(deployed.Accepted, deployed.Message);
            Assert.Equal("function source", await File.ReadAllTextAsync(factory.Provider!.ArtifactPath, Token));

            var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "echo.hello" };
            var reply = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "abc"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
            Assert.Equal("echo.hello:abc", Encoding.UTF8.GetString(reply.Data!));
            Assert.Equal("42", reply.Headers![AgentSubjects.RuntimeNsHeader].ToString());

            // A failing execution is answered at once: empty, with the NATS service error headers (0.2 sent nothing).
            var failed = await node.Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Trigger(node.AgentId), "fail"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token);
            Assert.Empty(failed.Data ?? []);
            Assert.Equal("boom", failed.Headers![FunctionErrors.Header].ToString());
            Assert.Equal("500", failed.Headers![FunctionErrors.CodeHeader].ToString());

            // A silent execution (no result at all) still gets no reply.
            await Assert.ThrowsAsync<NatsNoReplyException>(() => node.Connection.RequestAsync<byte[], byte[]>(
                AgentSubjects.Trigger(node.AgentId), "silent"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromMilliseconds(300) }, cancellationToken: Token).AsTask());

            Assert.Empty(await node.UndeployAsync(Token));
            Assert.True(factory.Provider.Undeployed);
            Assert.False(File.Exists(factory.Provider.ArtifactPath));

            // Undeployed: the trigger subject is gone too.
            await Assert.ThrowsAsync<NatsNoRespondersException>(() => node.Connection.RequestAsync<byte[], byte[]>(
                AgentSubjects.Trigger(node.AgentId), "x"u8.ToArray(), headers, replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(2) }, cancellationToken: Token).AsTask());

            await stop.CancelAsync();
            Assert.Equal(0, await run.WaitAsync(Wait, Token));
        }

        var published = node.Published.Snapshot();
        Assert.Contains(published, p => p.IsEvent(EventTypes.WorkloadDeployed));
        Assert.DoesNotContain(published, p => p.IsEvent(EventTypes.WorkloadUndeployed));
    }

    [Fact]
    public async Task Triggers_AreHandedToTheProviderAsTheyCome_EachAnsweredWhenItsExecutionEnds()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact("function source");
        await node.AnswerHandshakesAsync(Token);
        var factory = new EchoFunctionFactory();
        await using (var agent = await InProcessAgent.StartAsync(node, factory))
        {
            Assert.True((await node.DeployAsync(EchoRequest, Token)).Accepted);
            var headers = new NatsHeaders { [AgentSubjects.TriggerSubjectHeader] = "echo.x" };
            Task<NatsMsg<byte[]>> Trigger(string payload) => node.Connection.RequestAsync<byte[], byte[]>(
                AgentSubjects.Trigger(node.AgentId), Encoding.UTF8.GetBytes(payload), headers, replyOpts: new NatsSubOpts { Timeout = Wait }, cancellationToken: Token).AsTask();

            // A held execution does not hold up the triggers behind it: the provider gets them at once (it
            // decides how to run them) and each is answered when its own execution ends.
            var held = Trigger("hold");
            await factory.Provider!.HoldStarted.Task.WaitAsync(Wait, Token);
            Assert.Equal("echo.x:quick", Encoding.UTF8.GetString((await Trigger("quick")).Data!));
            Assert.False(held.IsCompleted);
            factory.Provider.Release.SetResult();
            Assert.Equal("echo.x:hold", Encoding.UTF8.GetString((await held.WaitAsync(Wait, Token)).Data!));

            // An undeploy lets the execution in flight finish and answer first.
            var last = Trigger("hold again");
            await factory.Provider.HoldAgainStarted.Task.WaitAsync(Wait, Token);
            var undeployed = node.UndeployAsync(Token);
            factory.Provider.ReleaseAgain.SetResult();
            Assert.Equal("echo.x:hold again", Encoding.UTF8.GetString((await last.WaitAsync(Wait, Token)).Data!));
            Assert.Empty(await undeployed);
            Assert.Equal(0, await agent.StopAsync());
        }
    }

    [Fact]
    public async Task ValidationAndDeployFailures_AreRejectedWithTheirMessages()
    {
        await using var node = await FakeNode.StartAsync(Token);
        node.OfferArtifact("x");
        await node.AnswerHandshakesAsync(Token);
        var factory = new EchoFunctionFactory();
        await using (var agent = await InProcessAgent.StartAsync(node, factory))
        {
            var request = EchoRequest;

            var invalid = await node.DeployAsync(request with { Description = "invalid" }, Token);
            Assert.Equal("Failed to validate workload: source file (13 bytes) exceeds maximum of 12 bytes", invalid.Message);

            var broken = await node.DeployAsync(request with { Description = "broken" }, Token);
            Assert.Equal("Failed to deploy workload: cannot start", broken.Message);
            Assert.False(File.Exists(node.ArtifactPath));

            // Failed deploys do not use up the agent's one deploy.
            Assert.True((await node.DeployAsync(request, Token)).Accepted);
            Assert.Equal(0, await agent.StopAsync());
            Assert.True(factory.Provider!.Undeployed);
        }
    }

    private static AgentDeployRequest EchoRequest => FakeNode.NativeRequest("echo") with { WorkloadType = WorkloadTypes.V8, TriggerSubjects = ["echo.>"] };

    /// <summary>The agent in this process, connected to the fake node and past its handshake.</summary>
    private sealed class InProcessAgent : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly NexAgent _agent;
        private readonly Task<int> _run;

        private InProcessAgent(FakeNode node, IWorkloadProviderFactory factory)
        {
            var settings = new AgentSettings { WorkloadId = node.AgentId, NatsHost = "127.0.0.1", NatsPort = node.Server.Port, NKeySeed = node.Seed, NKeyPublic = NATS.NKeys.KeyPair.FromSeed(node.Seed).GetPublicKey(), Message = "m" };
            _agent = new NexAgent(settings, factory, NullLoggerFactory.Instance, TimeProvider.System);
            _run = _agent.RunAsync(_stop.Token);
        }

        public static async Task<InProcessAgent> StartAsync(FakeNode node, IWorkloadProviderFactory factory)
        {
            var agent = new InProcessAgent(node, factory);
            await node.Handshakes.WaitForAsync(_ => true, Wait, "handshake");
            return agent;
        }

        /// <summary>Stops the agent as a signal would; returns its exit code.</summary>
        public async Task<int> StopAsync()
        {
            await _stop.CancelAsync();
            return await _run.WaitAsync(Wait, Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _agent.DisposeAsync();
            _stop.Dispose();
        }
    }

    private sealed class EchoFunctionFactory : IWorkloadProviderFactory
    {
        public EchoFunction? Provider { get; private set; }

        public IWorkloadProvider Create(WorkloadContext context) => Provider = new EchoFunction(context);
    }

    private sealed class EchoFunction(WorkloadContext context) : IWorkloadProvider
    {
        private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string ArtifactPath => context.ArtifactPath;

        public bool Undeployed { get; private set; }

        public bool SupportsTriggers => true;

        public Task<int> Completion => _completion.Task;

        public Task ValidateAsync(CancellationToken cancellationToken) =>
            context.Request.Description == "invalid" ? Task.FromException(new InvalidOperationException("source file (13 bytes) exceeds maximum of 12 bytes")) : Task.CompletedTask;

        public Task DeployAsync(CancellationToken cancellationToken) =>
            context.Request.Description == "broken" ? Task.FromException(new InvalidOperationException("cannot start")) : Task.CompletedTask;

        public Task UndeployAsync(CancellationToken cancellationToken)
        {
            Undeployed = true;
            _completion.TrySetResult(0);
            return Task.CompletedTask;
        }

        public TaskCompletionSource HoldStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource HoldAgainStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource ReleaseAgain { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<TriggerResult?> ExecuteAsync(string subject, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            var text = Encoding.UTF8.GetString(payload.Span);
            return text switch
            {
                "hold" => HoldAsync(HoldStarted, Release, $"{subject}:{text}"),
                "hold again" => HoldAsync(HoldAgainStarted, ReleaseAgain, $"{subject}:{text}"),
                "fail" => Task.FromException<TriggerResult?>(new InvalidOperationException("boom")),
                "silent" => Task.FromResult<TriggerResult?>(null),
                _ => Task.FromResult<TriggerResult?>(new TriggerResult(Encoding.UTF8.GetBytes($"{subject}:{text}"), 42)),
            };
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private static async Task<TriggerResult?> HoldAsync(TaskCompletionSource started, TaskCompletionSource release, string reply)
        {
            started.TrySetResult();
            await release.Task;
            return new TriggerResult(Encoding.UTF8.GetBytes(reply), 1);
        }
    }
}
