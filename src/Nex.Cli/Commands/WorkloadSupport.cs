using System.CommandLine;
using NATS.NKeys;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;
using Spectre.Console;

namespace Nex.Cli.Commands;

/// <summary>Argument parsing, key loading and node selection shared by the workload commands.</summary>
internal static class WorkloadSupport
{
    /// <summary>
    /// DEPLOY (the node downloads the artifact) and STOP (the node waits for the workload to end) do real
    /// work: they wait 30 s unless <c>--timeout</c> is given. Discovery and INFO keep the 2 s default.
    /// </summary>
    public static readonly TimeSpan DefaultWorkTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>KEY=VALUE</c> entries (split at the first <c>=</c>; the value may be empty or hold more
    /// <c>=</c>). A later entry for the same key wins.
    /// </summary>
    public static Dictionary<string, string> ParseEnvironment(IEnumerable<string> entries)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException($"invalid environment entry '{entry}' (expected KEY=VALUE)");
            }

            env[entry[..equals]] = entry[(equals + 1)..];
        }

        return env;
    }

    /// <summary><c>--argv "a b c"</c>: split on spaces (0.2 split on single spaces; runs of spaces are one separator here).</summary>
    public static IReadOnlyList<string>? ParseArgv(string? argv) =>
        string.IsNullOrWhiteSpace(argv) ? null : argv.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Function types need a trigger subject (0.2 refuses this client-side).</summary>
    public static void RequireTriggers(string type, IReadOnlyList<string>? triggers)
    {
        if (WorkloadTypes.IsFunction(type) && (triggers is null || triggers.Count == 0))
        {
            throw new CliException("cannot start a function-type workload without specifying at least one trigger subject");
        }
    }

    /// <summary>
    /// <c>--function-timeout</c> (a Go duration, e.g. <c>2s</c>) as whole milliseconds, and <c>--queue-group</c>;
    /// both null when not given. They only make sense for function workloads (v8, wasm).
    /// </summary>
    public static (int? TimeoutMs, string? QueueGroup) ParseFunctionOptions(string type, string? functionTimeout, string? queueGroup)
    {
        if (!WorkloadTypes.IsFunction(type))
        {
            var given = functionTimeout is not null ? "--function-timeout" : queueGroup is not null ? "--queue-group" : null;
            if (given is not null)
            {
                throw new CliException($"{given} only applies to function workloads (v8, wasm), not '{type}'");
            }

            return (null, null);
        }

        int? timeoutMs = null;
        if (functionTimeout is not null)
        {
            var duration = GoDuration.Parse(functionTimeout, "--function-timeout");
            var ms = Math.Ceiling(duration.TotalMilliseconds);
            if (ms <= 0 || ms > int.MaxValue)
            {
                throw new CliException($"--function-timeout must be between 1ms and {int.MaxValue}ms (got '{functionTimeout}')");
            }

            timeoutMs = (int)ms;
        }

        if (queueGroup is not null && (queueGroup.Length == 0 || queueGroup.Any(char.IsWhiteSpace)))
        {
            throw new CliException($"invalid --queue-group '{queueGroup}' (a non-empty name without spaces)");
        }

        return (timeoutMs, queueGroup);
    }

    /// <summary><c>--reuse-context</c> is for v8 functions only (a WASM instance is fresh per call by construction).</summary>
    public static bool RequireReuseContext(string type, bool reuse) =>
        reuse && !string.Equals(type, WorkloadTypes.V8, StringComparison.OrdinalIgnoreCase)
            ? throw new CliException($"--reuse-context only applies to v8 functions, not '{type}'")
            : reuse;

    /// <summary>JetStream's rule for object store bucket names: letters, digits, <c>-</c> and <c>_</c>.</summary>
    public static bool IsValidBucketName(string bucket) =>
        bucket.Length > 0 && bucket.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The node's rule for names (<c>^[a-zA-Z0-9_-]+$</c>), checked before anything is sent.</summary>
    public static void RequireValidName(string name, string origin)
    {
        if (!WorkloadJwt.IsValidWorkloadName(name))
        {
            throw new CliException($"workload name '{Nex.Protocol.SubjectToken.Shorten(name)}' ({origin}) does not match {WorkloadJwt.NamePattern} with at most {WorkloadJwt.MaxNameLength} characters; give one with --name");
        }
    }

    /// <summary>An issuer seed file, or the developer issuer (<c>~/.nex/issuer.nk</c>, created when missing).</summary>
    public static KeyPair LoadIssuer(string? file, bool createDevKey)
    {
        if (file is null)
        {
            if (!createDevKey && !File.Exists(DevKeys.IssuerPath()))
            {
                throw new CliException($"no --issuer given and no developer issuer at '{DevKeys.IssuerPath()}' (nex devrun creates it)");
            }

            return DevKeys.LoadOrCreateIssuer();
        }

        var kp = NexKeys.LoadSeedFile(file);
        if (kp.Prefix == PrefixByte.Curve)
        {
            kp.Dispose();
            throw new CliException($"--issuer '{file}' holds a curve (xkey) seed; an issuer needs a signing seed (SA…)");
        }

        return kp;
    }

    /// <summary>A curve seed file, or the developer publisher xkey (<c>~/.nex/publisher.xk</c>, created when missing).</summary>
    public static KeyPair LoadXkey(string? file)
    {
        if (file is null)
        {
            return DevKeys.LoadOrCreateXkey();
        }

        var kp = NexKeys.LoadSeedFile(file);
        if (kp.Prefix != PrefixByte.Curve)
        {
            kp.Dispose();
            throw new CliException($"--xkey '{file}' does not hold a curve seed (SX…)");
        }

        return kp;
    }

    /// <summary>A client on the session's connection for DEPLOY and STOP (<c>--timeout</c>, else 30 s).</summary>
    public static NexClient WorkClient(ClientSession session, ParseResult parse) =>
        new(session.Connection, session.Client.Options with { Timeout = GlobalOptions.GetTimeout(parse, DefaultWorkTimeout) });

    /// <summary>The workflows on the session: discovery with the session's client, DEPLOY and STOP with <see cref="WorkClient"/>.</summary>
    public static WorkloadWorkflows Workflows(ClientSession session, ParseResult parse) => new(session.Client, WorkClient(session, parse));

    /// <summary>
    /// What a node would refuse, checked before anything is sent or stopped: the namespace token, trigger
    /// subjects (reserved or whole-space ones), triggers on a native workload, and the artifact file.
    /// </summary>
    public static void RequireLocallyValid(ParseResult parse, string type, IReadOnlyList<string> triggers, string? artifactPath)
    {
        try
        {
            WorkloadPreflight.CheckNamespace(GlobalOptions.GetNamespace(parse));
            if (triggers.Count > 0 && !WorkloadTypes.IsFunction(type))
            {
                throw new CliException($"--trigger only applies to function workloads (v8, wasm), not '{type}'");
            }

            WorkloadPreflight.CheckTriggers(triggers);
            if (artifactPath is not null)
            {
                WorkloadPreflight.CheckArtifact(artifactPath, type);
            }
        }
        catch (NexClientException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>
    /// The 0.2 success line, or with <c>--json</c> the RunResponse plus <c>node_id</c> (and, for devrun, the ids
    /// in <c>stopped</c>).
    /// </summary>
    public static void PrintAccepted(Output output, RunResponse response, string nodeId, IReadOnlyList<string>? stopped)
    {
        if (output.Json)
        {
            var json = System.Text.Json.JsonSerializer.SerializeToNode(response, NexJson.Context.RunResponse)!.AsObject();
            json["node_id"] = nodeId;
            if (stopped is not null)
            {
                json["stopped"] = new System.Text.Json.Nodes.JsonArray([.. stopped.Select(id => (System.Text.Json.Nodes.JsonNode?)id)]);
            }

            Output.WriteJson(json);
            return;
        }

        Output.Line($"🚀 Workload '{response.Name}' accepted. You can now refer to this workload with ID: {response.Id} on node {nodeId}");
    }

    /// <summary>
    /// The copies of <c>--replicas</c>: the 0.2 success line for each (its id and node) and a summary line; with
    /// <c>--json</c> the first copy's object as <see cref="PrintAccepted"/> writes it, with every copy in <c>copies</c>.
    /// Refused copies end the command with one line (after the accepted ones are shown).
    /// </summary>
    public static void PrintCopies(Output output, IReadOnlyList<RunResult> copies, int asked, IReadOnlyList<string>? stopped, IReadOnlyList<string> refused, bool keptPrevious = false)
    {
        var name = copies[0].Response.Name;
        var nodes = copies.Select(c => c.NodeId).Distinct(StringComparer.Ordinal).Count();
        if (output.Json)
        {
            var json = System.Text.Json.JsonSerializer.SerializeToNode(copies[0].Response, NexJson.Context.RunResponse)!.AsObject();
            json["node_id"] = copies[0].NodeId;
            json["copies"] = new System.Text.Json.Nodes.JsonArray([.. copies.Select(c =>
            {
                var copy = System.Text.Json.JsonSerializer.SerializeToNode(c.Response, NexJson.Context.RunResponse)!.AsObject();
                copy["node_id"] = c.NodeId;
                return (System.Text.Json.Nodes.JsonNode?)copy;
            })]);
            if (stopped is not null)
            {
                json["stopped"] = new System.Text.Json.Nodes.JsonArray([.. stopped.Select(id => (System.Text.Json.Nodes.JsonNode?)id)]);
            }

            Output.WriteJson(json);
        }
        else
        {
            foreach (var copy in copies)
            {
                Output.Line($"🚀 Workload '{copy.Response.Name}' accepted. You can now refer to this workload with ID: {copy.Response.Id} on node {copy.NodeId}");
            }

            Output.Line($"{copies.Count} of {asked} copies of '{name}' running on {nodes} node{(nodes == 1 ? "" : "s")}");
        }

        if (refused.Count > 0)
        {
            var kept = keptPrevious ? "; the previous workloads of that name keep running" : string.Empty;
            throw new CliException($"{refused.Count} of {asked} copies of '{name}' were refused: {string.Join("; ", refused)}{kept}");
        }
    }

    /// <summary>
    /// A stop by name that reached several workloads (or failed for some): one line per stopped workload (its id and
    /// node), or with <c>--json</c> an array of the StopResponses with <c>node_id</c>. Failures end the command with
    /// one line.
    /// </summary>
    public static void PrintStopped(Output output, string target, StopAllResult result)
    {
        if (output.Json)
        {
            Output.WriteJson(new System.Text.Json.Nodes.JsonArray([.. result.Stopped.Select(s =>
            {
                var json = System.Text.Json.JsonSerializer.SerializeToNode(s.Response, NexJson.Context.StopResponse)!.AsObject();
                json["node_id"] = s.NodeId;
                return (System.Text.Json.Nodes.JsonNode?)json;
            })]));
        }
        else
        {
            foreach (var stop in result.Stopped)
            {
                Output.Line($"✅ Workload '{(stop.Response.Name.Length > 0 ? stop.Response.Name : stop.WorkloadName)}' ({stop.Response.Id}) stopped on node {stop.NodeId}.");
            }
        }

        if (result.Failures.Count > 0)
        {
            var total = result.Stopped.Count + result.Failures.Count;
            throw new CliException($"{result.Failures.Count} of {total} workloads matching '{target}' were not stopped: {string.Join("; ", result.Failures)}");
        }
    }

    /// <summary>Uploads with a progress bar on a terminal; a plain line otherwise (nothing with <c>--json</c>).</summary>
    public static async Task<ArtifactUpload> UploadAsync(ArtifactStore store, string file, long maxBytes, Output output, CancellationToken cancellationToken)
    {
        if (output.Json)
        {
            return await store.UploadFileAsync(file, maxBytes, progress: null, cancellationToken).ConfigureAwait(false);
        }

        if (!Output.IsTerminal)
        {
            var upload = await store.UploadFileAsync(file, maxBytes, progress: null, cancellationToken).ConfigureAwait(false);
            Output.Line($"uploaded {upload.Size} bytes to {upload.Location}");
            return upload;
        }

        var size = new FileInfo(file).Length;
        ArtifactUpload? result = null;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape($"uploading {Path.GetFileName(file)}"), maxValue: Math.Max(size, 1));
                result = await store.UploadFileAsync(file, maxBytes, new MaxProgress(task), cancellationToken).ConfigureAwait(false);
                task.Value = task.MaxValue;
            })
            .ConfigureAwait(false);
        return result!;
    }

    /// <summary>Reports straight to the progress task (the upload reads sequentially, so values only grow).</summary>
    private sealed class MaxProgress(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = Math.Min(value, task.MaxValue);
    }
}
