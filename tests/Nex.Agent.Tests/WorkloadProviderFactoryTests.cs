using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Agent.Providers.V8;
using Nex.Agent.Providers.Wasm;
using Nex.Agent.Tests.V8;
using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

/// <summary>
/// Every function type has a provider: the factory's checks for <c>v8</c> and <c>wasm</c> (any case, like
/// <see cref="WorkloadTypes.IsFunction"/>) come first, so no function type can fall through to a rejection.
/// </summary>
public sealed class WorkloadProviderFactoryTests : IAsyncLifetime
{
    private readonly NatsConnection _unusedConnection = new();

    /// <inheritdoc />
    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _unusedConnection.DisposeAsync();

    [Theory]
    [InlineData("v8", typeof(V8FunctionProvider))]
    [InlineData("V8", typeof(V8FunctionProvider))]
    [InlineData("wasm", typeof(WasmFunctionProvider))]
    [InlineData("WASM", typeof(WasmFunctionProvider))]
    [InlineData("Wasm", typeof(WasmFunctionProvider))]
    public async Task EveryFunctionType_GetsItsProvider(string type, Type expected)
    {
        Assert.True(WorkloadTypes.IsFunction(type));
        await using var provider = new WorkloadProviderFactory().Create(Context(type));
        Assert.IsType(expected, provider);
        Assert.True(provider.SupportsTriggers);
    }

    private WorkloadContext Context(string type) => new()
    {
        AgentId = "agent1",
        Request = new AgentDeployRequest { Namespace = "default", WorkloadName = "fn", WorkloadType = type },
        ArtifactPath = "/nonexistent",
        Output = new CapturedOutput(),
        Connection = _unusedConnection,
        StopGrace = TimeSpan.FromSeconds(1),
        Loggers = NullLoggerFactory.Instance,
        Time = TimeProvider.System,
    };
}
