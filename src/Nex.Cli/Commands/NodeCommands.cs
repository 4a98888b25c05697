using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Nex.Node;
using Nex.Node.Config;
using Nex.Protocol;

namespace Nex.Cli.Commands;

/// <summary><c>nex node up|ls|info|lameduck|probe</c> and the top-level <c>nex lameduck</c>.</summary>
internal static class NodeCommands
{
    public static Command Create()
    {
        var node = new Command("node", "Run a node, or look at the nodes on this NATS system");
        node.Subcommands.Add(CreateUp());
        node.Subcommands.Add(CreateList());
        node.Subcommands.Add(CreateInfo());
        node.Subcommands.Add(CreateLameDuck());
        node.Subcommands.Add(CreateProbe());
        node.Subcommands.Add(SandboxCommands.CreatePreflight());
        return node;
    }

    private static Command CreateUp()
    {
        var config = new Option<string?>("--config") { Description = "node configuration file (default ./config.json; built-in defaults when it does not exist)" };
        var nexus = new Option<string>("--nexus") { Description = "nexus (cluster) name reported in ping and heartbeats", DefaultValueFactory = _ => "nexus" };
        var metrics = new Option<bool>("--metrics") { Description = "export OpenTelemetry metrics (config otel_metrics)" };
        var metricsPort = new Option<int>("--metrics_port") { Description = "port of the Prometheus endpoint (config otel_metrics_port; default 8085)" };
        var metricsExporter = new Option<string>("--otel_metrics_exporter") { Description = "file (metrics.log), prometheus or otlp (config otel_metrics_exporter; default file)" };
        metricsExporter.AcceptOnlyFromAmong("file", "prometheus", "otlp");
        var traces = new Option<bool>("--traces") { Description = "export OpenTelemetry traces (config otel_traces)" };
        var tracesExporter = new Option<string>("--otel_traces_exporter") { Description = "file (traces.log), grpc or http: OTLP to otlp_exporter_url (config otel_traces_exporter; default file)" };
        tracesExporter.AcceptOnlyFromAmong("file", "grpc", "http");
        var logLevel = new Option<string>("--loglevel") { Description = "none, debug, info, warn or error [env NEX_LOGLEVEL]", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("NEX_LOGLEVEL") is { Length: > 0 } l ? l : "info" };
        logLevel.AcceptOnlyFromAmong("none", "debug", "info", "warn", "error");
        var nodeSeed = new Option<string?>("--node-seed") { Description = "file with the node's server seed (SN…): a stable node id; created if missing (default $NEX_HOME/node.nk)" };
        var xkeySeed = new Option<string?>("--xkey-seed") { Description = "file with the node's curve seed (SX…): a stable xkey; created if missing (default $NEX_HOME/node.xk; give every node of a fleet the same one)" };
        var embeddedPort = new Option<int>("--embedded-port") { Description = "loopback port for the embedded nats-server, when one is started", DefaultValueFactory = _ => 4222 };

        var up = new Command("up", "Run a node. Without a server (-s, NATS_URL or a NATS context) and with nothing listening on nats://127.0.0.1:4222, it starts an embedded nats-server with JetStream.");
        foreach (var option in new Option[] { config, nexus, metrics, metricsPort, metricsExporter, traces, tracesExporter, logLevel, nodeSeed, xkeySeed, embeddedPort })
        {
            up.Options.Add(option);
        }

        up.SetAction(async (parse, cancellationToken) =>
        {
            var warnings = new List<string>();
            var cfg = ApplyTelemetryFlags(NodeConfigLoader.Load(parse.GetValue(config), warnings), parse, metrics, metricsPort, metricsExporter, traces, tracesExporter);
            if (parse.GetValue(nodeSeed) is { } seedFile)
            {
                cfg = cfg with { NodeSeedFile = seedFile };
            }

            if (parse.GetValue(xkeySeed) is { } xkeyFile)
            {
                cfg = cfg with { XkeySeedFile = xkeyFile };
            }

            // A node started again is the same node: its recorded workloads (desired state) come back on it, and their
            // environments, sealed to its xkey, still open. 0.2 made up a new identity at every start.
            cfg = cfg with
            {
                NodeSeedFile = cfg.NodeSeedFile ?? Path.Combine(NexHome.Directory, "node.nk"),
                XkeySeedFile = cfg.XkeySeedFile ?? Path.Combine(NexHome.Directory, "node.xk"),
            };

            using var loggerFactory = NodeLogging.Create(parse.GetValue(logLevel)!);
            var logger = loggerFactory.CreateLogger("nex");
            foreach (var warning in warnings)
            {
                CliLog.ConfigWarning(logger, warning);
            }

            var options = new NexNodeOptions
            {
                Config = cfg,
                Connection = GlobalOptions.GetConnection(parse, "nex-node"),
                Nexus = parse.GetValue(nexus)!,
                EmbeddedNatsPort = parse.GetValue(embeddedPort),
            };
            var node = await NexNode.StartAsync(options, loggerFactory, cancellationToken).ConfigureAwait(false);
            try
            {
                // Until a signal, or until a drain (lame duck) has moved or stopped the node's workloads.
                await node.StopRequested.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // A signal: shut down gracefully.
            }
            finally
            {
                await node.DisposeAsync().ConfigureAwait(false);
            }

            return 0;
        });
        return up;
    }

    // A flag given overrides the config file (0.2 overwrote the file's otel_* with the flags' defaults, so the file's
    // settings never counted); one that would change nothing because its signal is off is refused.
    private static NodeConfig ApplyTelemetryFlags(NodeConfig cfg, ParseResult parse, Option<bool> metrics, Option<int> metricsPort, Option<string> metricsExporter, Option<bool> traces, Option<string> tracesExporter)
    {
        static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
        cfg = cfg with
        {
            OtelMetrics = cfg.OtelMetrics || parse.GetValue(metrics),
            OtelMetricsPort = Given(parse, metricsPort) ? parse.GetValue(metricsPort) : cfg.OtelMetricsPort,
            OtelMetricsExporter = Given(parse, metricsExporter) ? parse.GetValue(metricsExporter)! : cfg.OtelMetricsExporter,
            OtelTraces = cfg.OtelTraces || parse.GetValue(traces),
            OtelTracesExporter = Given(parse, tracesExporter) ? parse.GetValue(tracesExporter)! : cfg.OtelTracesExporter,
        };
        if (!cfg.OtelMetrics && (Given(parse, metricsPort) || Given(parse, metricsExporter)))
        {
            throw new CliException($"{(Given(parse, metricsPort) ? "--metrics_port" : "--otel_metrics_exporter")} needs --metrics (or otel_metrics in the config)");
        }

        if (cfg.OtelMetrics && Given(parse, metricsPort) && cfg.OtelMetricsExporter != "prometheus")
        {
            throw new CliException($"--metrics_port is the Prometheus endpoint's port: it needs --otel_metrics_exporter prometheus (metrics go to {cfg.OtelMetricsExporter})");
        }

        if (!cfg.OtelTraces && Given(parse, tracesExporter))
        {
            throw new CliException("--otel_traces_exporter needs --traces (or otel_traces in the config)");
        }

        return NodeConfigLoader.Validate(cfg);
    }

    private static Command CreateList()
    {
        var full = new Option<bool>("--full") { Description = "more columns: nexus, sandboxed, OS, arch, all tags" };
        var ls = new Command("ls", "List the nodes that answer a PING");
        ls.Options.Add(full);
        ls.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var nodes = (await session.Client.PingAsync(cancellationToken).ConfigureAwait(false))
                .OrderBy(n => n.Tags?.GetValueOrDefault("node_name"), StringComparer.Ordinal).ToList();
            if (session.Output.Json)
            {
                Output.WriteJson(nodes, NexJson.Context.ListPingResponse);
                return 0;
            }

            if (nodes.Count == 0)
            {
                Output.Line("No nodes discovered");
                return 0;
            }

            var showAll = parse.GetValue(full);
            string[] headers = showAll
                ? ["ID", "Name", "Version", "Uptime", "Workloads", "Nexus", "Sandboxed", "OS", "Arch", "Tags"]
                : ["ID", "Name", "Version", "Uptime", "Workloads", "Tags"];
            Output.Table(headers, nodes.Select(n =>
            {
                var tags = n.Tags ?? new Dictionary<string, string>();
                var id = n.NodeId + (tags.GetValueOrDefault("nex.lameduck") == "true" ? "*" : "");
                var shownTags = FormatTags(tags, includeInternal: showAll);
                IReadOnlyList<string> row = showAll
                    ? [id, tags.GetValueOrDefault("node_name") ?? "", n.Version, n.Uptime, n.RunningMachines.ToString(CultureInfo.InvariantCulture), n.Nexus ?? "",
                        tags.GetValueOrDefault("nex.unsafe") == "true" ? "no" : "yes", tags.GetValueOrDefault("nex.os") ?? "", tags.GetValueOrDefault("nex.arch") ?? "", shownTags]
                    : [id, tags.GetValueOrDefault("node_name") ?? "", n.Version, n.Uptime, n.RunningMachines.ToString(CultureInfo.InvariantCulture), shownTags];
                return row;
            }));
            return 0;
        });
        return ls;
    }

    private static Command CreateInfo()
    {
        var id = new Argument<string>("node") { Description = "node id, unique id prefix, or node name" };
        var info = new Command("info", "Show a node's details and its workloads in the namespace");
        info.Arguments.Add(id);
        info.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var nodeId = await session.Client.ResolveNodeIdAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            var response = await session.Client.InfoAsync(nodeId, cancellationToken).ConfigureAwait(false);
            if (session.Output.Json)
            {
                Output.WriteJson(response, NexJson.Context.InfoResponse);
                return 0;
            }

            var tags = response.Tags ?? new Dictionary<string, string>();
            var pairs = new List<(string, string)>
            {
                ("Node", nodeId),
                ("Name", tags.GetValueOrDefault("node_name") ?? ""),
                ("Xkey", response.PublicXkey),
                ("Version", response.Version),
                ("Uptime", response.Uptime),
                ("Sandboxed", tags.GetValueOrDefault("nex.unsafe") == "true" ? "no" : "yes"),
                ("Lame duck", tags.GetValueOrDefault("nex.lameduck") == "true" ? "yes" : "no"),
                ("Workload types", string.Join(", ", response.SupportedWorkloadTypes ?? [])),
                ("Tags", FormatTags(tags, includeInternal: true)),
            };
            if (response.Memory is { } memory)
            {
                pairs.Add(("Memory (kB)", string.Create(CultureInfo.InvariantCulture, $"total {memory.Total}, free {memory.Free}, available {memory.Available}")));
            }

            if (response.AgentStartFailure is { } failure)
            {
                pairs.Add(("Agents", $"cannot start: {failure}"));
            }

            Output.Pairs(pairs);
            Output.Heading($"Workloads in namespace '{session.Client.Options.Namespace}'");
            if (response.Machines.Count == 0)
            {
                Output.Line("No workloads");
                return 0;
            }

            Output.Table(
                ["ID", "Name", "Type", "Healthy", "Uptime", "Runtime", "Memory", "CPU", "SHA-256"],
                response.Machines.Select(m => (IReadOnlyList<string>)[m.Id, m.Workload.Name, m.Workload.Type, m.Healthy ? "yes" : "no", m.Uptime, m.Workload.Runtime, FormatMemory(m.Resources), FormatCpu(m.Resources), m.Workload.Hash]));
            return 0;
        });
        return info;
    }

    // "23.4 MiB", or "23.4 / 256 MiB" under a limit; "-" when the node did not say (0.2 nodes).
    private static string FormatMemory(MachineResources? resources) => resources switch
    {
        null => "-",
        { MemoryLimitBytes: { } limit } => string.Create(CultureInfo.InvariantCulture, $"{resources.MemoryBytes / 1048576.0:0.0} / {limit / 1048576.0:0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{resources.MemoryBytes / 1048576.0:0.0} MiB"),
    };

    private static string FormatCpu(MachineResources? resources) =>
        resources is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{resources.CpuSeconds:0.00} s");

    /// <summary><c>lameduck &lt;node&gt;</c>, both as <c>nex lameduck</c> (0.2) and <c>nex node lameduck</c>.</summary>
    public static Command CreateLameDuck()
    {
        var id = new Argument<string>("node") { Description = "node id, unique id prefix, or node name" };
        var lameDuck = new Command("lameduck", "Put a node in lame duck mode: it refuses new deploys, hands its workloads to other nodes (stopping the rest by fleet.drain_timeout_ms), then exits");
        lameDuck.Arguments.Add(id);
        lameDuck.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var nodeId = await session.Client.ResolveNodeIdAsync(parse.GetValue(id)!, cancellationToken).ConfigureAwait(false);
            var response = await session.Client.LameDuckAsync(nodeId, cancellationToken).ConfigureAwait(false);
            if (session.Output.Json)
            {
                Output.WriteJson(response, NexJson.Context.LameDuckResponse);
            }
            else
            {
                Output.Line($"Command to enter lame duck mode issued to {response.NodeId}");
            }

            return 0;
        });
        return lameDuck;
    }

    private static Command CreateProbe()
    {
        var workload = new Option<string?>("--workload") { Description = "workload id or name" };
        var probe = new Command("probe", "Find running workloads (WPING) in the namespace");
        probe.Options.Add(workload);
        probe.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var replies = await session.Client.WorkloadPingAsync(parse.GetValue(workload), cancellationToken).ConfigureAwait(false);
            if (session.Output.Json)
            {
                Output.WriteJson(replies.ToList(), NexJson.Context.ListWorkloadPingResponse);
                return 0;
            }

            var rows = replies.SelectMany(r => r.RunningMachines.Select(m => (IReadOnlyList<string>)[m.Id, m.Name, m.Type, m.Namespace, r.Tags?.GetValueOrDefault("node_name") ?? r.NodeId])).ToList();
            if (rows.Count == 0)
            {
                Output.Line("No workloads matched");
                return 0;
            }

            Output.Table(["ID", "Name", "Type", "Namespace", "Node"], rows);
            return 0;
        });
        return probe;
    }

    private static string FormatTags(IReadOnlyDictionary<string, string> tags, bool includeInternal) =>
        string.Join(", ", tags
            .Where(t => includeInternal || (!t.Key.StartsWith("nex.", StringComparison.Ordinal) && t.Key != "node_name"))
            .OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => $"{t.Key}={t.Value}"));
}
