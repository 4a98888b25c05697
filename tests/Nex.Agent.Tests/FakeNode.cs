using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using NATS.Client.Core;
using NATS.NKeys;
using Nex.Node.Nats;
using Nex.Protocol;
using Nex.Testing;

namespace Nex.Agent.Tests;

/// <summary>
/// Plays the node for one agent: a real nats-server (no JetStream, as the node's internal one) whose
/// account <c>W</c> has one nkey user, a connection as that user, the artifact service on
/// <c>hostint.&lt;id&gt;.artifact</c>, and a recorder of what the agent publishes. Serving the artifact,
/// the recorder is one subscription on <c>hostint.&lt;id&gt;.&gt;</c>, so it keeps the agent's publish
/// order; without the service it must leave <c>hostint.&lt;id&gt;.artifact</c> without responders, so logs
/// and events are recorded by two subscriptions (order between them not kept).
/// </summary>
internal sealed class FakeNode : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly KeyPair _user;
    private readonly List<Task> _recording = [];
    private byte[]? _artifact;
    private NatsServerProcess _server;

    private FakeNode(TempDirectory dir, KeyPair user, NatsServerProcess server, NatsConnection connection, bool servesArtifact)
    {
        _dir = dir;
        _user = user;
        _server = server;
        Connection = connection;
        ServesArtifact = servesArtifact;
        AgentId = Xid.NewId();
        ArtifactDirectory = Directory.CreateDirectory(dir.File("tmp")).FullName;
    }

    public NatsServerProcess Server => _server;

    public NatsConnection Connection { get; }

    /// <summary>Whether anything answers on <c>hostint.&lt;id&gt;.artifact</c>.</summary>
    public bool ServesArtifact { get; }

    /// <summary>Largest chunk the fake node serves (the real one: 1 MiB).</summary>
    public int ChunkSize { get; set; } = 256 * 1024;

    public int ArtifactRequests { get; private set; }

    public string AgentId { get; }

    /// <summary>The agent's <c>TMPDIR</c>: its artifact lands here.</summary>
    public string ArtifactDirectory { get; }

    public string ArtifactPath => Path.Combine(ArtifactDirectory, $"workload-{AgentId}");

    public string Seed => _user.GetSeed();

    /// <summary>Everything the agent published on <c>hostint.&lt;id&gt;.&gt;</c> except the handshake.</summary>
    public Recorder<Published> Published { get; } = new();

    public Recorder<HandshakeRequest> Handshakes { get; } = new();

    /// <summary>Starts the fake node.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="serveArtifact">False: nothing answers on <c>hostint.&lt;id&gt;.artifact</c>.</param>
    public static async Task<FakeNode> StartAsync(CancellationToken cancellationToken, bool serveArtifact = true)
    {
        var dir = new TempDirectory("nex-agent-test-");
        var user = KeyPair.CreatePair(PrefixByte.User);
        NatsServerProcess? server = null;
        NatsConnection? connection = null;
        try
        {
            var config = dir.File("nats.conf");
            await File.WriteAllTextAsync(
                config,
                $$"""
                accounts {
                  W { users: [ { nkey: {{user.GetPublicKey()}} } ] }
                }
                """,
                cancellationToken);
            server = await NatsServerProcess.StartAsync(new NatsServerOptions { ConfigFile = config, JetStream = false }, cancellationToken: cancellationToken);
            connection = new NatsConnection(NatsOpts.Default with
            {
                Url = server.ClientUrl,
                Name = "fake-node",
                AuthOpts = NatsAuthOpts.Default with { NKey = user.GetPublicKey(), Seed = user.GetSeed() },
                SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
                // Reconnects (with its subscriptions) when a test restarts the server, as the node's links do.
                MaxReconnectRetry = -1,
                ReconnectWaitMin = TimeSpan.FromMilliseconds(100),
                ReconnectWaitMax = TimeSpan.FromMilliseconds(500),
            });
            await connection.ConnectAsync();
            var node = new FakeNode(dir, user, server, connection, serveArtifact);
            await node.StartRecordingAsync(cancellationToken);
            if (serveArtifact)
            {
                await node.ServeArtifactAsync(cancellationToken);
            }

            return node;
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }

            user.Dispose();
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Offers <paramref name="content"/> as the artifact the agent gets (as the node's AgentLink).</summary>
    public void OfferArtifact(string content) => OfferArtifact(Encoding.UTF8.GetBytes(content));

    /// <summary>Offers <paramref name="content"/> as the artifact the agent gets (as the node's AgentLink).</summary>
    public void OfferArtifact(byte[] content) => Volatile.Write(ref _artifact, content);

    /// <summary>Answers the agent's handshake with <c>{}</c> from now on.</summary>
    public async Task AnswerHandshakesAsync(CancellationToken cancellationToken)
    {
        var sub = await Connection.SubscribeCoreAsync<byte[]>(AgentSubjects.Handshake(AgentId), cancellationToken: cancellationToken);
        _ = Task.Run(
            async () =>
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync())
                {
                    Handshakes.Add(JsonSerializer.Deserialize(msg.Data, NexJson.Context.HandshakeRequest)!);
                    await msg.ReplyAsync("{}"u8.ToArray());
                }
            },
            CancellationToken.None);
    }

    /// <summary>Environment for a no-sandbox agent of this node (as the spawn manager sets it).</summary>
    public Dictionary<string, string?> AgentEnvironment(int stopGraceMs = 500) => new()
    {
        ["NEX_SANDBOX"] = "false",
        ["NEX_WORKLOADID"] = AgentId,
        ["NEX_NODE_NATS_HOST"] = "0.0.0.0",
        ["NEX_NODE_NATS_PORT"] = Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["NEX_NODE_NATS_NKEY_SEED"] = Seed,
        ["NEX_AGENT_STOP_GRACE_MS"] = stopGraceMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["TMPDIR"] = ArtifactDirectory,
    };

    /// <summary>Kills the server (SIGKILL, as a crash) and starts it again on the same port with the same config, as the node's supervisor does.</summary>
    /// <param name="whileDown">Runs while the server is down.</param>
    /// <param name="cancellationToken">Cancels the restart.</param>
    public async Task CrashServerAsync(Func<Task> whileDown, CancellationToken cancellationToken)
    {
        var port = _server.Port;
        Nex.Processes.Posix.Signal(_server.ProcessId, Nex.Processes.Posix.SIGKILL);
        await _server.Exited.WaitAsync(cancellationToken);
        await _server.DisposeAsync();
        await whileDown();
        _server = await NatsServerProcess.StartAsync(new NatsServerOptions { ConfigFile = _dir.File("nats.conf"), JetStream = false, Port = port }, cancellationToken: cancellationToken);
    }

    public async Task<string> PingAsync(CancellationToken cancellationToken)
    {
        var reply = await Connection.RequestAsync<byte[], byte[]>(AgentSubjects.AgentPing(AgentId), [], replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(2) }, cancellationToken: cancellationToken);
        return Encoding.UTF8.GetString(reply.Data ?? []);
    }

    public async Task<AgentDeployResponse> DeployAsync(string body, CancellationToken cancellationToken)
    {
        var reply = await Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Deploy(AgentId), Encoding.UTF8.GetBytes(body), replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(5) }, cancellationToken: cancellationToken);
        return JsonSerializer.Deserialize(reply.Data, NexJson.Context.AgentDeployResponse)!;
    }

    public Task<AgentDeployResponse> DeployAsync(AgentDeployRequest request, CancellationToken cancellationToken) =>
        DeployAsync(JsonSerializer.Serialize(request, NexJson.Context.AgentDeployRequest), cancellationToken);

    public async Task<byte[]> UndeployAsync(CancellationToken cancellationToken)
    {
        var reply = await Connection.RequestAsync<byte[], byte[]>(AgentSubjects.Undeploy(AgentId), [], replyOpts: new NatsSubOpts { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken: cancellationToken);
        return reply.Data ?? [];
    }

    /// <summary>A valid native deploy request (for the offered artifact).</summary>
    public static AgentDeployRequest NativeRequest(string name, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? argv = null) => new()
    {
        Namespace = "default",
        WorkloadName = name,
        WorkloadType = WorkloadTypes.Native,
        Hash = new string('a', 64),
        TotalBytes = 42,
        Environment = environment ?? new Dictionary<string, string>(),
        Argv = argv,
    };

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Task.WhenAll(_recording).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        await Server.DisposeAsync();
        _user.Dispose();
        _dir.Dispose();
    }

    private async Task StartRecordingAsync(CancellationToken cancellationToken)
    {
        string[] subjects = ServesArtifact
            ? [$"hostint.{AgentId}.>"]
            : [AgentSubjects.Logs(AgentId), AgentSubjects.EventsWildcard(AgentId)];
        foreach (var subject in subjects)
        {
            var sub = await Connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken);
            _recording.Add(Task.Run(
                async () =>
                {
                    try
                    {
                        await foreach (var msg in sub.Msgs.ReadAllAsync())
                        {
                            if (msg.Subject.EndsWith(".logs", StringComparison.Ordinal) || msg.Subject.Contains(".events.", StringComparison.Ordinal))
                            {
                                Published.Add(new Published(msg.Subject, msg.Data ?? []));
                            }
                        }
                    }
                    catch (Exception ex) when (ex is NatsException or OperationCanceledException or ChannelClosedException)
                    {
                    }
                },
                CancellationToken.None));
        }

        await Connection.PingAsync(cancellationToken);
    }

    // As the node's AgentLink: x-nex-offset in, the chunk and x-nex-size out; x-nex-error before an artifact exists.
    private async Task ServeArtifactAsync(CancellationToken cancellationToken)
    {
        var sub = await Connection.SubscribeCoreAsync<byte[]>(AgentSubjects.Artifact(AgentId), cancellationToken: cancellationToken);
        _recording.Add(Task.Run(
            async () =>
            {
                try
                {
                    await foreach (var msg in sub.Msgs.ReadAllAsync())
                    {
                        ArtifactRequests++;
                        var artifact = Volatile.Read(ref _artifact);
                        var headers = new NatsHeaders();
                        if (artifact is null)
                        {
                            headers[AgentSubjects.ArtifactErrorHeader] = "no artifact has been offered to this agent";
                            await msg.ReplyAsync(Array.Empty<byte>(), headers);
                            continue;
                        }

                        var offset = (int)Math.Min(long.Parse(msg.Headers![AgentSubjects.ArtifactOffsetHeader].ToString(), System.Globalization.CultureInfo.InvariantCulture), artifact.Length);
                        headers[AgentSubjects.ArtifactSizeHeader] = artifact.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        await msg.ReplyAsync(artifact.AsSpan(offset, Math.Min(ChunkSize, artifact.Length - offset)).ToArray(), headers);
                    }
                }
                catch (Exception ex) when (ex is NatsException or OperationCanceledException or ChannelClosedException)
                {
                }
            },
            CancellationToken.None));
    }
}

/// <summary>One message the agent published.</summary>
internal sealed record Published(string Subject, byte[] Data)
{
    public bool IsLog => Subject.EndsWith(".logs", StringComparison.Ordinal);

    public bool IsEvent(string type) => Subject.EndsWith($".events.{type}", StringComparison.Ordinal);

    public AgentLogEntry Log => JsonSerializer.Deserialize(Data, NexJson.Context.AgentLogEntry)!;

    public CloudEvent Event => JsonSerializer.Deserialize(Data, NexJson.Context.CloudEvent)!;

    public override string ToString() => $"{Subject}: {Encoding.UTF8.GetString(Data)}";
}

/// <summary>A thread-safe, ordered list of received items that can be awaited.</summary>
internal sealed class Recorder<T>
{
    private readonly List<T> _items = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<T> Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        TaskCompletionSource changed;
        lock (_items)
        {
            _items.Add(item);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>Waits for the first item (received so far or later) that matches.</summary>
    public async Task<T> WaitForAsync(Func<T, bool> match, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_items)
            {
                foreach (var item in _items)
                {
                    if (match(item))
                    {
                        return item;
                    }
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no {what} within {timeout}; received:\n{string.Join('\n', Snapshot())}");
            }
        }
    }
}
