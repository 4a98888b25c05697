using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NATS.Client.Core;
using Nex.Client;
using Nex.Nats;
using Nex.Node.Nats;
using Nex.Processes;
using Nex.Protocol;

namespace Nex.Bench;

/// <summary>
/// The hardening campaign of issue 15 as a repeatable, bounded run (<c>bench/run --campaign</c>): malformed
/// control requests, isolation attempts from real workloads, kill -9 of the node's parts, and a deploy/stop
/// soak. Everything runs against real nodes (separate processes) on its own nats-server on loopback, each
/// section on a fresh node, so one section's damage (lame duck, a dead internal server) does not colour the next.
/// It observes and counts; it never fails on a behaviour it finds (that is the figure), only on a step that
/// could not run, which is listed under errors.
/// </summary>
internal sealed partial class Campaign
{
    private const string ProbeName = "probe";
    private const string VictimName = "victim";

    // The isolation probe: one function that performs the host-service call it is asked for and says what came
    // back (or the error it got), so each attempt's outcome is what a tenant's function would see.
    private const string ProbeSource = """
        async (subject, payload) => {
          const dec = (b) => {
            if (b === undefined || b === null) return null;
            if (typeof b === 'string') return b;
            const bytes = new Uint8Array(b);
            let raw = '';
            for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
            try { return decodeURIComponent(escape(raw)); } catch { return raw; }
          };
          const enc = (s) => {
            const u = unescape(encodeURIComponent(s));
            const b = new Uint8Array(u.length);
            for (let i = 0; i < u.length; i++) b[i] = u.charCodeAt(i);
            return b;
          };
          const cmd = JSON.parse(dec(payload));
          try {
            switch (cmd.op) {
              case 'request': return { ok: true, result: dec(await hostServices.messaging.request(cmd.subject, enc(cmd.data || ''))) };
              case 'publish': await hostServices.messaging.publish(cmd.subject, enc(cmd.data || '')); return { ok: true };
              case 'http': { const r = await hostServices.http.get(cmd.url); return { ok: true, result: 'status ' + r.status + ': ' + String(r.response || '').slice(0, 300) }; }
              case 'kvset': await hostServices.kv.set(cmd.key, enc(cmd.data)); return { ok: true };
              case 'kvget': return { ok: true, result: dec(await hostServices.kv.get(cmd.key)) };
            }
            return { ok: false, error: 'unknown op' };
          } catch (e) {
            return { ok: false, error: String(e) };
          }
        };
        """;

    // The native probe: reports (yes/no only, never a value) whether the agent's NATS seed is readable.
    private const string EnvProbeSource = """
        #!/bin/sh
        check() {
          if [ ! -r "$1" ]; then echo unreadable; return; fi
          if tr '\000' '\n' < "$1" 2>/dev/null | grep -q 'NKEY_SEED='; then echo yes; else echo no; fi
        }
        if env | grep -q 'NKEY_SEED='; then self=yes; else self=no; fi
        if [ -r /run/nex/metadata.json ]; then meta=readable; else meta=absent-or-unreadable; fi
        echo "CAMPAIGN-ENV ppid=$(check /proc/$PPID/environ) pid1=$(check /proc/1/environ) self=$self metadata=$meta"
        sleep 30
        """;

    private readonly CampaignSettings _settings;
    private readonly string _examples;
    private readonly string _nodeDirectory;
    private readonly Action<string> _progress;
    private string _probePath = "";
    private string _envProbePath = "";

    public Campaign(CampaignSettings settings, string examplesDirectory, string? nodeDirectory, Action<string> progress)
    {
        _settings = settings;
        _examples = examplesDirectory;
        _nodeDirectory = nodeDirectory ?? AppContext.BaseDirectory;
        _progress = progress;
    }

    private string V8Echo => Path.Combine(_examples, "js", "echo.js");

    private string EchoService => Path.Combine(_examples, "echoservice", "build", "echoservice");

    public async Task<CampaignReport> RunAsync(CancellationToken cancellationToken)
    {
        foreach (var artifact in new[] { V8Echo, EchoService })
        {
            if (!File.Exists(artifact))
            {
                throw new BenchException($"{artifact} is missing; build the examples with examples/build.sh (bench/run does)");
            }
        }

        var report = new CampaignReport { Settings = _settings, Started = DateTimeOffset.UtcNow };
        var wall = Stopwatch.StartNew();
        var work = Directory.CreateTempSubdirectory("nex-campaign-").FullName;
        try
        {
            _probePath = Path.Combine(work, "campaignprobe.js");
            await File.WriteAllTextAsync(_probePath, ProbeSource, cancellationToken).ConfigureAwait(false);
            _envProbePath = Path.Combine(work, "envprobe.sh");
            await File.WriteAllTextAsync(_envProbePath, EnvProbeSource.Replace("\r\n", "\n", StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);

            // The main server also serves monitoring (on loopback), the target of one isolation attempt.
            var monitorPort = FreeLoopbackPort();
            var serverConfig = Path.Combine(work, "nats.conf");
            await File.WriteAllTextAsync(serverConfig, $"http: \"127.0.0.1:{monitorPort}\"\n", cancellationToken).ConfigureAwait(false);
            await using var nats = await NatsServerProcess.StartAsync(new NatsServerOptions { JetStream = true, ConfigFile = serverConfig }, cancellationToken: cancellationToken).ConfigureAwait(false);
            await using var caller = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = nats.ClientUrl, ConnectionName = "campaign-caller" }, cancellationToken).ConfigureAwait(false);
            var client = new NexClient(caller, new NexClientOptions { Timeout = TimeSpan.FromSeconds(30) });
            using var workloads = new Workloads(client, Path.Combine(work, "keys"));
            foreach (var artifact in new[] { V8Echo, EchoService, _probePath, _envProbePath })
            {
                await workloads.UploadAsync(artifact, cancellationToken).ConfigureAwait(false);
            }

            var context = new Context(nats.ClientUrl, monitorPort, caller, client, workloads, work);
            if (_settings.Runs("malformed"))
            {
                await Step(report, "malformed control requests", () => MalformedAsync(context, report, cancellationToken)).ConfigureAwait(false);
            }

            if (_settings.Runs("isolation"))
            {
                await Step(report, "isolation attempts", () => IsolationAsync(context, report, cancellationToken)).ConfigureAwait(false);
            }

            if (_settings.Runs("survival"))
            {
                await Step(report, "kill -9 of the internal nats-server", () => SurvivalAsync(context, report, killAgent: false, cancellationToken)).ConfigureAwait(false);
                await Step(report, "kill -9 of agents", () => SurvivalAsync(context, report, killAgent: true, cancellationToken)).ConfigureAwait(false);
            }

            if (_settings.Runs("soak"))
            {
                await Step(report, "soak", () => SoakAsync(context, report, cancellationToken)).ConfigureAwait(false);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        report.DurationSeconds = wall.Elapsed.TotalSeconds;
        return report;
    }

    private async Task Step(CampaignReport report, string name, Func<Task> step)
    {
        _progress($"campaign: {name}");
        var started = Stopwatch.GetTimestamp();
        try
        {
            await step().ConfigureAwait(false);
            _progress($"campaign: {name}: {Seconds(started):0} s");
        }
        catch (Exception ex) when (ex is BenchException or NexClientException or NatsException or TimeoutException or InvalidOperationException or IOException or JsonException)
        {
            report.Errors.Add($"{name}: {ex.Message}");
            _progress($"  failed: {name}: {ex.Message}");
        }
    }

    private Task<BenchNode> StartNodeAsync(Context context, int poolSize, string? tempDirectory, CancellationToken cancellationToken) =>
        BenchNode.StartAsync(
            context.NatsUrl,
            context.Client,
            new BenchNodeSettings { NodeDirectory = _nodeDirectory, PoolSize = poolSize, LogLevel = "info", TempDirectory = tempDirectory },
            cancellationToken);

    /// <summary>A raw request: the reply's bytes, or null for no reply in time; throws <see cref="NatsNoRespondersException"/>.</summary>
    private static async Task<byte[]?> RawRequestAsync(INatsConnection connection, string subject, byte[] body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await connection.RequestAsync<byte[], byte[]>(subject, body, replyOpts: new NatsSubOpts { Timeout = timeout }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (reply.HasNoResponders)
            {
                throw new NatsNoRespondersException();
            }

            return reply.Data ?? [];
        }
        catch (NatsNoReplyException)
        {
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<bool> PingsAsync(INatsConnection connection, string nodeId, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await RawRequestAsync(connection, NexSubjects.PingNode(nodeId), [], TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
            return reply is not null && ReplyClassifier.Classify(reply).Category == ReplyCategory.Accepted;
        }
        catch (NatsNoRespondersException)
        {
            return false;
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double Seconds(long since) => Stopwatch.GetElapsedTime(since).TotalSeconds;

    /// <summary>What every section shares.</summary>
    private sealed record Context(string NatsUrl, int MonitorPort, NatsConnection Caller, NexClient Client, Workloads Workloads, string WorkDirectory);
}
