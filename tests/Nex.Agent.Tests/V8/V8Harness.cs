using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Agent.Providers;
using Nex.Agent.Providers.V8;
using Nex.Protocol;
using Nex.Testing;

namespace Nex.Agent.Tests.V8;

/// <summary>A validated and deployed <see cref="V8FunctionProvider"/> for a source text, in this process.</summary>
internal sealed class V8Harness : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly NatsConnection? _ownedConnection;

    private V8Harness(TempDirectory dir, V8FunctionProvider provider, CapturedOutput output, NatsConnection? ownedConnection)
    {
        _dir = dir;
        Provider = provider;
        Output = output;
        _ownedConnection = ownedConnection;
    }

    public V8FunctionProvider Provider { get; }

    public CapturedOutput Output { get; }

    public static WorkloadContext Context(string artifactPath, IWorkloadOutput output, INatsConnection connection, string agentId = "agent1") => new()
    {
        AgentId = agentId,
        Request = new AgentDeployRequest { Namespace = "default", WorkloadName = "fn", WorkloadType = WorkloadTypes.V8 },
        ArtifactPath = artifactPath,
        Output = output,
        Connection = connection,
        StopGrace = TimeSpan.FromSeconds(1),
        Loggers = NullLoggerFactory.Instance,
        Time = TimeProvider.System,
    };

    /// <summary>Creates, validates and deploys; a validation failure propagates (nothing leaks).</summary>
    public static async Task<V8Harness> StartAsync(string source, CancellationToken cancellationToken, V8Options? options = null, INatsConnection? connection = null, string agentId = "agent1")
    {
        var dir = new TempDirectory("nex-v8-");
        var path = dir.File("function.js");
        await File.WriteAllTextAsync(path, source, cancellationToken);
        NatsConnection? owned = connection is null ? new NatsConnection() : null;
        var output = new CapturedOutput();
        var provider = new V8FunctionProvider(Context(path, output, connection ?? owned!, agentId), options ?? new V8Options());
        try
        {
            await provider.ValidateAsync(cancellationToken);
            await provider.DeployAsync(cancellationToken);
            return new V8Harness(dir, provider, output, owned);
        }
        catch
        {
            await provider.DisposeAsync();
            if (owned is not null)
            {
                await owned.DisposeAsync();
            }

            dir.Dispose();
            throw;
        }
    }

    public async Task<string?> CallAsync(string subject, string payload, CancellationToken cancellationToken)
    {
        var result = await Provider.ExecuteAsync(subject, Encoding.UTF8.GetBytes(payload), cancellationToken);
        return result is null ? null : Encoding.UTF8.GetString(result.Data.Span);
    }

    public async ValueTask DisposeAsync()
    {
        await Provider.UndeployAsync(CancellationToken.None);
        await Provider.DisposeAsync();
        if (_ownedConnection is not null)
        {
            await _ownedConnection.DisposeAsync();
        }

        _dir.Dispose();
    }
}

/// <summary>Workload output captured for assertions.</summary>
internal sealed class CapturedOutput : IWorkloadOutput
{
    private readonly ConcurrentQueue<(WorkloadStream Stream, string Text)> _chunks = new();

    public ValueTask WriteAsync(WorkloadStream stream, string text, CancellationToken cancellationToken)
    {
        _chunks.Enqueue((stream, text));
        return ValueTask.CompletedTask;
    }

    public string Text(WorkloadStream stream) => string.Concat(_chunks.Where(c => c.Stream == stream).Select(c => c.Text));

    public async Task<string> WaitForAsync(WorkloadStream stream, string fragment, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Text(stream).Contains(fragment, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{fragment}' not in {stream}: {Text(stream)}");
            }

            await Task.Delay(10);
        }

        return Text(stream);
    }
}
