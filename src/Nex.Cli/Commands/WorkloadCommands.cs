using System.CommandLine;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Cli.Commands;

/// <summary><c>nex run</c>, <c>nex devrun</c> (<c>yeet</c>), <c>nex stop</c> and <c>nex workload ls</c> (spec §9.2–9.3).</summary>
internal static class WorkloadCommands
{
    public static Command CreateRun()
    {
        var url = new Argument<string>("url") { Description = "artifact location: nats://BUCKET/key (a JetStream object store object)" };
        var rest = new Argument<string[]>("args") { Description = "[node] [KEY=VALUE…]: a node id (0.2 form) and environment variables", Arity = ArgumentArity.ZeroOrMore };
        var node = new Option<string?>("--node") { Description = "node id, unique id prefix or node name (default: the best-scored node that bids in an auction)" };
        var issuer = new Option<string?>("--issuer") { Description = "issuer account seed file (default ~/.nex/issuer.nk, created when missing)" };
        var xkey = new Option<string?>("--xkey") { Description = "publisher curve seed file (default ~/.nex/publisher.xk, created when missing)" };
        var name = new Option<string?>("--name") { Description = "workload name, ^[a-zA-Z0-9_-]+$ (default: the object key without dots)" };
        var type = TypeOption("(default: from the key's extension: .js v8, .wasm wasm, else native)");
        var description = new Option<string?>("--description") { Description = "workload description" };
        var argv = new Option<string?>("--argv") { Description = "space-separated program arguments" };
        var env = EnvOption();
        var essential = new Option<bool>("--essential") { Description = "restart the workload when it exits with an error (native only)" };
        var triggers = TriggerOption();
        var queueGroup = QueueGroupOption();
        var functionTimeout = FunctionTimeoutOption();
        var reuseContext = ReuseContextOption();
        var hash = new Option<string?>("--hash") { Description = "the artifact's SHA-256 (hex) for the JWT hash claim; the node then checks it (default: 0.2's placeholder)" };
        var jsDomain = new Option<string?>("--jsdomain") { Description = "JetStream domain of the artifact bucket" };
        var hsUrl = new Option<string?>("--hs_url") { Description = "host services NATS URL for this workload" };
        var hsJwt = new Option<string?>("--hs_jwt") { Description = "host services NATS user JWT" };
        var hsSeed = new Option<string?>("--hs_seed") { Description = "host services NATS user seed" };
        var replicas = ReplicasOption();

        var run = new Command("run", "Deploy a workload whose artifact is already in a JetStream object store");
        run.Arguments.Add(url);
        run.Arguments.Add(rest);
        foreach (var option in new Option[] { node, issuer, xkey, name, type, description, argv, env, essential, triggers, queueGroup, functionTimeout, reuseContext, hash, jsDomain, hsUrl, hsJwt, hsSeed, replicas })
        {
            run.Options.Add(option);
        }

        run.SetAction(async (parse, cancellationToken) =>
        {
            WorkloadLocation location;
            try
            {
                location = WorkloadLocation.Parse(parse.GetValue(url)!);
            }
            catch (FormatException ex)
            {
                throw new CliException(ex.Message.Replace("Invalid", "invalid", StringComparison.Ordinal));
            }

            if (location.Key.Length == 0)
            {
                throw new CliException($"workload location '{location}' names no object key (expected nats://BUCKET/key)");
            }

            // Nodes fetch artifacts only from JetStream object stores; refuse other URLs here rather than let a
            // node fail on them with the NATS client's bucket-name rules.
            if (!string.Equals(location.Scheme, "nats", StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"workload location '{parse.GetValue(url)}' is not a nats:// URL; upload the file to an object store and give nats://BUCKET/key (or use 'nex devrun <file>')");
            }

            if (!WorkloadSupport.IsValidBucketName(location.Host))
            {
                throw new CliException($"invalid object store bucket '{location.Host}' in '{parse.GetValue(url)}': bucket names use only letters, digits, '-' and '_'");
            }

            var (positionalNode, envEntries) = SplitNodeAndEnvironment(parse.GetValue(rest) ?? []);
            var nodeArg = parse.GetValue(node);
            if (positionalNode is not null && nodeArg is not null && positionalNode != nodeArg)
            {
                throw new CliException($"two nodes given: '{positionalNode}' and --node '{nodeArg}'");
            }

            nodeArg ??= positionalNode;
            var copies = RequireReplicas(parse.GetValue(replicas), nodeArg);
            var environment = WorkloadSupport.ParseEnvironment([.. parse.GetValue(env) ?? [], .. envEntries]);
            var workloadName = parse.GetValue(name) ?? location.Key.Replace(".", string.Empty, StringComparison.Ordinal);
            WorkloadSupport.RequireValidName(workloadName, parse.GetValue(name) is null ? "from the object key" : "--name");
            var workloadType = parse.GetValue(type) ?? NexClient.WorkloadTypeForFile(location.Key);
            var triggerSubjects = parse.GetValue(triggers) ?? [];
            WorkloadSupport.RequireTriggers(workloadType, triggerSubjects);
            var (timeoutMs, group) = WorkloadSupport.ParseFunctionOptions(workloadType, parse.GetValue(functionTimeout), parse.GetValue(queueGroup));
            var reuse = WorkloadSupport.RequireReuseContext(workloadType, parse.GetValue(reuseContext));
            var hashClaim = parse.GetValue(hash);
            if (hashClaim is not null && !WorkloadJwt.IsRealDigest(hashClaim))
            {
                throw new CliException($"--hash '{hashClaim}' is not a SHA-256 digest (64 hex characters)");
            }

            WorkloadSupport.RequireLocallyValid(parse, workloadType, triggerSubjects, artifactPath: null);
            var hostServices = HostServices(parse.GetValue(hsUrl), parse.GetValue(hsJwt), parse.GetValue(hsSeed));
            using var issuerKey = WorkloadSupport.LoadIssuer(parse.GetValue(issuer), createDevKey: true);
            using var xkeyKey = WorkloadSupport.LoadXkey(parse.GetValue(xkey));

            var spec = new DeploySpec
            {
                Location = location,
                Name = workloadName,
                Type = workloadType,
                Environment = environment,
                Description = parse.GetValue(description),
                Argv = WorkloadSupport.ParseArgv(parse.GetValue(argv)),
                Essential = parse.GetValue(essential),
                Triggers = triggerSubjects,
                JsDomain = parse.GetValue(jsDomain),
                Hash = hashClaim,
                FunctionTimeoutMs = timeoutMs,
                TriggerQueueGroup = group,
                ReuseContext = reuse,
                HostServices = hostServices,
            };

            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            if (copies > 1)
            {
                var (placed, refused) = await WorkloadSupport.Workflows(session, parse).RunReplicasAsync(nodeArg, spec, copies, issuerKey, xkeyKey, cancellationToken).ConfigureAwait(false);
                WorkloadSupport.PrintCopies(session.Output, placed, copies, stopped: null, refused);
                return 0;
            }

            var (nodeId, response) = await WorkloadSupport.Workflows(session, parse).RunAsync(nodeArg, spec, issuerKey, xkeyKey, cancellationToken).ConfigureAwait(false);
            WorkloadSupport.PrintAccepted(session.Output, response, nodeId, stopped: null);
            return 0;
        });
        return run;
    }

    public static Command CreateDevRun()
    {
        var file = new Argument<string>("file") { Description = "the artifact: a native executable, a .js (v8) or .wasm (wasm) function" };
        var rest = new Argument<string[]>("env") { Description = "KEY=VALUE environment variables", Arity = ArgumentArity.ZeroOrMore };
        var type = TypeOption("(default: from the extension: .js v8, .wasm wasm, else native)");
        var argv = new Option<string?>("--argv") { Description = "space-separated program arguments" };
        var env = EnvOption();
        var essential = new Option<bool>("--essential") { Description = "restart the workload when it exits with an error (native only)" };
        var triggers = TriggerOption();
        var queueGroup = QueueGroupOption();
        var functionTimeout = FunctionTimeoutOption();
        var reuseContext = ReuseContextOption();
        var stop = new Option<bool>("--stop") { Description = "then stop the previous workloads with the same name, wherever they run in the namespace (--stop=false to keep them)", DefaultValueFactory = _ => true };
        var maxBytes = new Option<long>("--bucketmaxbytes") { Description = "size limit of the NEXCLIFILES bucket when it is created (bytes)", DefaultValueFactory = _ => ArtifactStore.DefaultMaxBytes };
        var node = new Option<string?>("--node") { Description = "node id, unique id prefix or node name (default: the best-scored node that bids in an auction)" };
        var replicas = ReplicasOption();

        var devRun = new Command("devrun", "Developer mode: upload a file to the NEXCLIFILES object store and run it with the ~/.nex keys");
        devRun.Aliases.Add("yeet");
        devRun.Arguments.Add(file);
        devRun.Arguments.Add(rest);
        foreach (var option in new Option[] { type, argv, env, essential, triggers, queueGroup, functionTimeout, reuseContext, stop, maxBytes, node, replicas })
        {
            devRun.Options.Add(option);
        }

        devRun.SetAction(async (parse, cancellationToken) =>
        {
            // Everything that can be checked here is checked before anything is uploaded or stopped: a refused
            // devrun must leave the running workload alone.
            var path = parse.GetValue(file)!;
            var environment = WorkloadSupport.ParseEnvironment([.. parse.GetValue(env) ?? [], .. parse.GetValue(rest) ?? []]);
            var workloadName = ArtifactStore.KeyForFile(path);
            WorkloadSupport.RequireValidName(workloadName, "the file name without dots");
            var workloadType = parse.GetValue(type) ?? NexClient.WorkloadTypeForFile(path);
            var triggerSubjects = parse.GetValue(triggers) ?? [];
            WorkloadSupport.RequireTriggers(workloadType, triggerSubjects);
            var (timeoutMs, group) = WorkloadSupport.ParseFunctionOptions(workloadType, parse.GetValue(functionTimeout), parse.GetValue(queueGroup));
            var reuse = WorkloadSupport.RequireReuseContext(workloadType, parse.GetValue(reuseContext));
            var bucketMaxBytes = parse.GetValue(maxBytes);
            if (bucketMaxBytes <= 0)
            {
                throw new CliException($"--bucketmaxbytes must be positive (got {bucketMaxBytes})");
            }

            WorkloadSupport.RequireLocallyValid(parse, workloadType, triggerSubjects, path);
            var copies = RequireReplicas(parse.GetValue(replicas), parse.GetValue(node));
            var spec = new DevRunSpec
            {
                Path = path,
                Type = workloadType,
                Environment = environment,
                Argv = WorkloadSupport.ParseArgv(parse.GetValue(argv)),
                Essential = parse.GetValue(essential),
                Triggers = triggerSubjects,
                FunctionTimeoutMs = timeoutMs,
                TriggerQueueGroup = group,
                ReuseContext = reuse,
                StopPrevious = parse.GetValue(stop),
                BucketMaxBytes = bucketMaxBytes,
                Node = parse.GetValue(node),
                Replicas = copies,
            };

            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var output = session.Output;
            var result = await WorkloadSupport.Workflows(session, parse)
                .DevRunAsync(spec, (store, artifact, bucketMax, ct) => WorkloadSupport.UploadAsync(store, artifact, bucketMax, output, ct), cancellationToken)
                .ConfigureAwait(false);
            var (nodeId, response, stopped, stopFailure) = result;
            if (copies > 1)
            {
                WorkloadSupport.PrintCopies(output, result.Copies, copies, stopped, result.DeployFailures, keptPrevious: spec.StopPrevious);
            }
            else
            {
                WorkloadSupport.PrintAccepted(output, response, nodeId, stopped);
            }

            if (!output.Json)
            {
                foreach (var id in stopped)
                {
                    Output.Line($"Stopped previous workload '{workloadName}' ({id})");
                }
            }

            if (stopFailure is not null)
            {
                throw new CliException($"{stopFailure}; the new workload {response.Id} runs beside it (stop it with 'nex stop <id>')");
            }

            return 0;
        });
        return devRun;
    }

    public static Command CreateStop()
    {
        var first = new Argument<string>("target") { Description = "workload id or name; in the 0.2 form 'nex stop <node> <workload>', the node (id, prefix or name)" };
        var second = new Argument<string?>("workload") { Description = "workload id or name, when the first argument is a node", Arity = ArgumentArity.ZeroOrOne };
        var issuer = new Option<string?>("--issuer") { Description = "the issuer seed file that deployed it (default ~/.nex/issuer.nk)" };
        var name = new Option<string?>("--name") { Description = "workload name for the stop token (default: found by WPING/INFO)" };

        var stop = new Command("stop", "Stop a workload: an id stops that one, a name every workload of that name in the namespace, wherever it runs (only its issuer can)");
        stop.Arguments.Add(first);
        stop.Arguments.Add(second);
        stop.Options.Add(issuer);
        stop.Options.Add(name);
        stop.SetAction(async (parse, cancellationToken) =>
        {
            using var issuerKey = WorkloadSupport.LoadIssuer(parse.GetValue(issuer), createDevKey: false);
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var workflows = WorkloadSupport.Workflows(session, parse);
            StopResult single;
            if (parse.GetValue(second) is null)
            {
                var all = await workflows.StopAllAsync(parse.GetValue(first)!, parse.GetValue(name), issuerKey, cancellationToken).ConfigureAwait(false);
                if (all.Stopped.Count != 1 || all.Failures.Count > 0)
                {
                    WorkloadSupport.PrintStopped(session.Output, parse.GetValue(first)!, all);
                    return 0;
                }

                single = all.Stopped[0];
            }
            else
            {
                single = await workflows
                    .StopAsync(parse.GetValue(first)!, parse.GetValue(second), parse.GetValue(name), issuerKey, cancellationToken)
                    .ConfigureAwait(false);
            }

            var (_, workloadName, response) = single;
            if (session.Output.Json)
            {
                Output.WriteJson(response, NexJson.Context.StopResponse);
            }
            else
            {
                Output.Line($"✅ Workload '{(response.Name.Length > 0 ? response.Name : workloadName)}' stopped.");
            }

            return 0;
        });
        return stop;
    }

    public static Command CreateWorkload()
    {
        var list = new Command("ls", "List the running workloads in the namespace (WPING)");
        list.Aliases.Add("list");
        var desired = new Option<bool>("--desired") { Description = $"list the workloads recorded as desired (JetStream KV {DesiredState.Bucket}) instead, and whether each is running" };
        list.Options.Add(desired);
        list.SetAction(async (parse, cancellationToken) =>
        {
            await using var session = await ClientSession.OpenAsync(parse, cancellationToken).ConfigureAwait(false);
            var workloads = await session.Client.FindWorkloadsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(desired))
            {
                return await ListDesiredAsync(session, workloads, cancellationToken).ConfigureAwait(false);
            }
            if (session.Output.Json)
            {
                // The table's rows, one object each (the raw WPING replies stay available as 'node probe --json').
                Output.WriteJson(new System.Text.Json.Nodes.JsonArray([.. workloads.Select(w => (System.Text.Json.Nodes.JsonNode?)new System.Text.Json.Nodes.JsonObject
                {
                    ["id"] = w.Workload.Id,
                    ["name"] = w.Workload.Name,
                    ["type"] = w.Workload.Type,
                    ["namespace"] = w.Workload.Namespace,
                    ["node_id"] = w.NodeId,
                    ["node_name"] = w.NodeName,
                })]));
                return 0;
            }

            if (workloads.Count == 0)
            {
                Output.Line("No workloads matched");
                return 0;
            }

            Output.Table(
                ["ID", "Name", "Type", "Namespace", "Node"],
                workloads.Select(w => (IReadOnlyList<string>)[w.Workload.Id, w.Workload.Name, w.Workload.Type, w.Workload.Namespace, w.NodeName]));
            return 0;
        });

        var workload = new Command("workload", "Look at running workloads");
        workload.Subcommands.Add(list);
        return workload;
    }

    // Desired vs running: every record of the namespace, running when its current id answered WPING.
    private static async Task<int> ListDesiredAsync(ClientSession session, IReadOnlyList<WorkloadLocator> running, CancellationToken cancellationToken)
    {
        var records = await DesiredStateReader.ReadAsync(session.Connection, cancellationToken).ConfigureAwait(false);
        if (records is null)
        {
            throw new CliException($"No desired state: there is no {DesiredState.Bucket} bucket (no node with JetStream on this NATS system has recorded a workload)");
        }

        var runningIds = running.Select(w => w.Workload.Id).ToHashSet(StringComparer.Ordinal);
        var rows = records
            .Where(r => string.Equals(r.Workload.Namespace, session.Client.Options.Namespace, StringComparison.Ordinal))
            .OrderBy(r => r.Workload.CreatedAt)
            .Select(r => (Entry: r, Running: runningIds.Contains(r.Workload.WorkloadId)))
            .ToList();
        if (session.Output.Json)
        {
            Output.WriteJson(new System.Text.Json.Nodes.JsonArray([.. rows.Select(r => (System.Text.Json.Nodes.JsonNode?)new System.Text.Json.Nodes.JsonObject
            {
                ["key"] = r.Entry.Key,
                ["name"] = r.Entry.Workload.Name,
                ["type"] = r.Entry.Workload.Request.Type,
                ["namespace"] = r.Entry.Workload.Namespace,
                ["node_id"] = r.Entry.Workload.NodeId,
                ["workload_id"] = r.Entry.Workload.WorkloadId,
                ["retry_count"] = r.Entry.Workload.RetryCount,
                ["running"] = r.Running,
            })]));
            return 0;
        }

        if (rows.Count == 0)
        {
            Output.Line("No desired workloads");
            return 0;
        }

        Output.Table(
            ["Key", "Name", "Type", "Node", "Workload ID", "Running"],
            rows.Select(r => (IReadOnlyList<string>)[r.Entry.Key, r.Entry.Workload.Name, r.Entry.Workload.Request.Type, r.Entry.Workload.NodeId, r.Entry.Workload.WorkloadId, r.Running ? "yes" : "NO"]));
        return 0;
    }

    /// <summary>
    /// 0.2's <c>run &lt;url&gt; &lt;node&gt; [KEY=VAL…]</c>: a first positional without <c>=</c> is the node.
    /// </summary>
    internal static (string? Node, IReadOnlyList<string> Environment) SplitNodeAndEnvironment(IReadOnlyList<string> args) =>
        args.Count > 0 && !args[0].Contains('=', StringComparison.Ordinal)
            ? (args[0], args.Skip(1).ToList())
            : (null, args);

    private static Option<string?> TypeOption(string defaultText)
    {
        var type = new Option<string?>("--type") { Description = $"workload type: native, v8 or wasm {defaultText}" };
        type.AcceptOnlyFromAmong(WorkloadTypes.Native, WorkloadTypes.V8, WorkloadTypes.Wasm);
        return type;
    }

    private static Option<int> ReplicasOption() =>
        new("--replicas") { Description = $"run N copies of the workload, each on its own node while there are enough (1–{WorkloadWorkflows.MaxReplicas}; needs an auction, not --node)", DefaultValueFactory = _ => 1 };

    private static int RequireReplicas(int replicas, string? node) =>
        WorkloadWorkflows.ReplicasProblem(replicas, node) is { } problem ? throw new CliException(problem) : replicas;

    private static Option<string[]> EnvOption() =>
        new("--env", "-e") { Description = "environment variable KEY=VALUE (repeatable; positional KEY=VALUE also works)", AllowMultipleArgumentsPerToken = false };

    private static Option<string[]> TriggerOption() =>
        new("--trigger_subject", "--trigger") { Description = "trigger subject of a function workload (repeatable; required for v8 and wasm)", AllowMultipleArgumentsPerToken = false };

    private static Option<string?> QueueGroupOption() =>
        new("--queue-group") { Description = "subscribe the trigger subjects in this queue group, so replicas share the requests (default: every replica answers)" };

    private static Option<string?> FunctionTimeoutOption() =>
        new("--function-timeout") { Description = "time limit of one function invocation, e.g. 2s, 500ms (default: the node's function_timeout_ms, 5s)" };

    private static Option<bool> ReuseContextOption() =>
        new("--reuse-context") { Description = "v8 only: keep one JavaScript context across calls, so globals persist between them (default: a fresh context per call, as 0.2)" };

    private static NatsJwtConnectionInfo? HostServices(string? url, string? jwt, string? seed) =>
        url is null && jwt is null && seed is null
            ? null
            : new NatsJwtConnectionInfo { NatsUrl = url ?? string.Empty, NatsUserJwt = jwt ?? string.Empty, NatsUserSeed = seed ?? string.Empty };
}
