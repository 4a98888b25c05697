using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NATS.Client.Core;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Bench;

/// <summary>
/// Section 2: what one tenant's workload can reach. Every attempt comes from a real deployed function (or
/// native workload); "allowed" means the call went through or its effect was observed, "refused" that the node
/// (or a policy) said no. HTTP attempts only target loopback: nothing leaves this machine.
/// </summary>
internal sealed partial class Campaign
{
    private const string ProbeSubject = "campaign.probe";
    private const string VictimSubject = "campaign.victim";

    private async Task IsolationAsync(Context context, CampaignReport report, CancellationToken cancellationToken)
    {
        await using var node = await StartNodeAsync(context, poolSize: 2, tempDirectory: null, cancellationToken).ConfigureAwait(false);
        var attempts = report.Isolation;
        var w = context.Workloads;
        var caller = context.Caller;

        await w.SendAsync(node, w.BuildDeploy(node, _probePath, ProbeName, argv: null, triggers: [ProbeSubject]), cancellationToken).ConfigureAwait(false);
        await w.SendAsync(node, w.BuildDeploy(node, _probePath, VictimName, argv: null, triggers: [VictimSubject]), cancellationToken).ConfigureAwait(false);
        var secret = "secret-" + Guid.NewGuid().ToString("N")[..12];
        var write = await ProbeAsync(caller, VictimSubject, new JsonObject { ["op"] = "kvset", ["key"] = "k", ["data"] = secret }, cancellationToken).ConfigureAwait(false);
        if (!write.Ok)
        {
            throw new BenchException($"the victim function could not write its own KV key: {write.Text}");
        }

        // Messaging host service.
        var bucket = $"KV_hs_default_{VictimName}_kv";
        var kvSubject = $"$KV.hs_default_{VictimName}_kv.k";
        var names = await ProbeAsync(caller, ProbeSubject, Request("$JS.API.STREAM.NAMES", ""), cancellationToken).ConfigureAwait(false);
        attempts.Add(Judge("messaging", "request $JS.API.STREAM.NAMES", names, names.Ok && names.Text.Contains("streams", StringComparison.Ordinal)));
        var direct = await ProbeAsync(caller, ProbeSubject, Request($"$JS.API.DIRECT.GET.{bucket}", $"{{\"last_by_subj\":\"{kvSubject}\"}}"), cancellationToken).ConfigureAwait(false);
        attempts.Add(Judge("messaging", $"request $JS.API.DIRECT.GET.{bucket} (read the other workload's KV)", direct, direct.Ok && direct.Text.Contains(secret, StringComparison.Ordinal)));
        var msgGet = await ProbeAsync(caller, ProbeSubject, Request($"$JS.API.STREAM.MSG.GET.{bucket}", $"{{\"last_by_subj\":\"{kvSubject}\"}}"), cancellationToken).ConfigureAwait(false);
        attempts.Add(Judge("messaging", $"request $JS.API.STREAM.MSG.GET.{bucket}", msgGet, msgGet.Ok && msgGet.Text.Contains(Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)), StringComparison.Ordinal)));
        var overwrite = await ProbeAsync(caller, ProbeSubject, new JsonObject { ["op"] = "publish", ["subject"] = kvSubject, ["data"] = "pwned" }, cancellationToken).ConfigureAwait(false);
        var readBack = await ProbeAsync(caller, VictimSubject, new JsonObject { ["op"] = "kvget", ["key"] = "k" }, cancellationToken).ConfigureAwait(false);
        attempts.Add(Judge("messaging", $"publish {kvSubject} (overwrite the other workload's KV)", overwrite, readBack.Text == "pwned", $"victim reads back {Clip(readBack.Text)}"));
        foreach (var (subject, op) in new[] { ("_INBOX.campaign.x", "publish"), ("$SYS.REQ.SERVER.PING", "request"), ("$NEX.PING", "request"), ("$O.hs_default_victim_obj.x", "publish") })
        {
            attempts.Add(await ObservedAttemptAsync(caller, subject, op, cancellationToken).ConfigureAwait(false));
        }

        // HTTP host service: loopback only (the NATS monitor, the node's internal NATS port).
        var internalPort = InternalNatsPort(node);
        var urls = new List<(string Url, string What)>
        {
            ($"http://127.0.0.1:{context.MonitorPort}/connz", "the NATS monitor's /connz"),
            ($"http://localhost:{context.MonitorPort}/varz", "the NATS monitor via localhost"),
            ($"http://127.0.0.2:{context.MonitorPort}/connz", "127.0.0.2 (loopback range)"),
            ($"http://[::ffff:127.0.0.1]:{context.MonitorPort}/connz", "IPv4-mapped loopback"),
        };
        if (internalPort is { } port)
        {
            urls.Add(($"http://127.0.0.1:{port}/", "the node's internal NATS port"));
        }

        foreach (var (url, what) in urls)
        {
            var r = await ProbeAsync(caller, ProbeSubject, new JsonObject { ["op"] = "http", ["url"] = url }, cancellationToken).ConfigureAwait(false);
            attempts.Add(JudgeHttp($"http get {url} ({what})", r));
        }

        attempts.Add(new IsolationAttempt("http", "http get 169.254.169.254 / 10.0.0.1 (link-local, private)", IsolationAttempt.Skipped, "never sent: the campaign sends nothing off this machine; the loopback rows show the policy"));

        // The agent's credentials, from a native workload.
        attempts.AddRange(await EnvProbeAsync(context, node, cancellationToken).ConfigureAwait(false));

        // Stop tokens: replayed against a later deployment of the same name, and issued in 1970.
        attempts.AddRange(await StopTokenAttemptsAsync(context, node, cancellationToken).ConfigureAwait(false));

        // Namespaces and triggers (deploys; an accepted one is stopped at once, or goes with the node).
        foreach (var ns in new[] { ">", "a*b", "$SYS", "*" })
        {
            var request = w.BuildDeploy(node, V8Echo, "nsprobe", argv: null, triggers: ["campaign.ns." + ns.Length]);
            attempts.Add(await DeployAttemptAsync(caller, "namespace", $"deploy into namespace {ns}", $"$NEX.DEPLOY.{ns}.{node.NodeId}", request, cancellationToken).ConfigureAwait(false));
        }

        // Wildcards last among the deploys: a function on '*' or '>' would answer requests meant for others.
        foreach (var trigger in new[] { "$KV.>", "$O.>", "_INBOX.>", "$SYS", "$JS.API.>", "*", "*.>", ">" })
        {
            var request = w.BuildDeploy(node, V8Echo, "trigprobe", argv: null, triggers: [trigger]);
            attempts.Add(await DeployAttemptAsync(caller, "trigger", $"trigger {trigger}", NexSubjects.Deploy("default", node.NodeId), request, cancellationToken).ConfigureAwait(false));
        }

        // Lame duck from inside, last of all: it ends this node's usefulness.
        var lameDuck = await ProbeAsync(caller, ProbeSubject, new JsonObject { ["op"] = "publish", ["subject"] = NexSubjects.LameDuck(node.NodeId) }, cancellationToken).ConfigureAwait(false);
        string after;
        try
        {
            await w.SendAsync(node, w.BuildDeploy(node, V8Echo, "afterlameduck", argv: null, triggers: ["campaign.after"]), cancellationToken).ConfigureAwait(false);
            after = "a deploy after it was accepted";
        }
        catch (NexClientException ex)
        {
            after = "a deploy after it: " + Clip(ex.Message);
        }

        attempts.Add(Judge("messaging", "publish $NEX.LAMEDUCK.<node> (put its own node in lame duck)", lameDuck, after.Contains("lame", StringComparison.OrdinalIgnoreCase), after));
    }

    private static JsonObject Request(string subject, string data) => new() { ["op"] = "request", ["subject"] = subject, ["data"] = data };

    private static IsolationAttempt Judge(string group, string attempt, ProbeReply reply, bool effect, string? extra = null)
    {
        var detail = (reply.Ok ? "call resolved" + (reply.Text.Length > 0 ? ": " + Clip(reply.Text) : "") : "call failed: " + Clip(reply.Text)) + (extra is null ? "" : "; " + extra);
        if (effect)
        {
            return new IsolationAttempt(group, attempt, IsolationAttempt.Allowed, detail);
        }

        // No effect: refused only when the node said so; a resolved call without effect is still not refused.
        return new IsolationAttempt(group, attempt, !reply.Ok && IsPolicyRefusal(reply.Text) ? IsolationAttempt.Refused : reply.Ok ? IsolationAttempt.Allowed : IsolationAttempt.Unknown, detail);
    }

    private static IsolationAttempt JudgeHttp(string attempt, ProbeReply reply)
    {
        if (reply.Ok)
        {
            return new IsolationAttempt("http", attempt, IsolationAttempt.Allowed, Clip(reply.Text));
        }

        // A connection the OS refused, or a peer that is not HTTP, still means the request was let through.
        return new IsolationAttempt("http", attempt, IsPolicyRefusal(reply.Text) ? IsolationAttempt.Refused : IsolationAttempt.Allowed, "call failed: " + Clip(reply.Text));
    }

    /// <summary>Whether an error reads as a refusal by the node or a policy (not the OS refusing a connection).</summary>
    private static bool IsPolicyRefusal(string text) =>
        !text.Contains("Connection refused", StringComparison.OrdinalIgnoreCase) && PolicyPattern().IsMatch(text);

    [GeneratedRegex(@"permission|not allowed|not permitted|denied|forbidden|blocked|policy|refus|disallowed|reserved", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PolicyPattern();

    private static string Clip(string text)
    {
        text = text.ReplaceLineEndings(" ");
        return text.Length > 140 ? text[..140] + "…" : text;
    }

    /// <summary>A publish or request from the probe function, observed by a subscriber of the campaign's own.</summary>
    private static async Task<IsolationAttempt> ObservedAttemptAsync(NatsConnection caller, string subject, string op, CancellationToken cancellationToken)
    {
        await using var observer = await caller.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken).ConfigureAwait(false);
        await caller.PingAsync(cancellationToken).ConfigureAwait(false);
        var reply = await ProbeAsync(caller, ProbeSubject, new JsonObject { ["op"] = op, ["subject"] = subject, ["data"] = "campaign" }, cancellationToken).ConfigureAwait(false);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromMilliseconds(500));
        var seen = false;
        try
        {
            seen = await observer.Msgs.WaitToReadAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        return Judge("messaging", $"{op} {subject}", reply, seen || (op == "request" && reply.Ok), seen ? "a subscriber of the campaign received it" : null);
    }

    private async Task<IReadOnlyList<IsolationAttempt>> EnvProbeAsync(Context context, BenchNode node, CancellationToken cancellationToken)
    {
        const string attempt = "native workload reads NEX_NODE_NATS_NKEY_SEED (own env, /proc/$PPID/environ, /proc/1/environ, /run/nex/metadata.json)";
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        watching.CancelAfter(TimeSpan.FromSeconds(20));
        string? line = null;
        var watcher = Task.Run(
            async () =>
            {
                try
                {
                    await foreach (var log in context.Client.WatchLogsAsync(new LogFilter { WorkloadName = "envprobe" }, watching.Token).ConfigureAwait(false))
                    {
                        if (log.Text.Contains("CAMPAIGN-ENV", StringComparison.Ordinal))
                        {
                            line = log.Text.Trim();
                            await watching.CancelAsync().ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            },
            CancellationToken.None);
        await context.Caller.PingAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await context.Workloads.SendAsync(node, context.Workloads.BuildDeploy(node, _envProbePath, "envprobe", argv: null, triggers: null), cancellationToken).ConfigureAwait(false);
        }
        catch (NexClientException ex)
        {
            await watching.CancelAsync().ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
            return [new IsolationAttempt("credentials", attempt, IsPolicyRefusal(ex.Message) ? IsolationAttempt.Refused : IsolationAttempt.Skipped, "the shell script was not deployed: " + Clip(ex.Message))];
        }

        await watcher.ConfigureAwait(false);
        if (line is null)
        {
            return [new IsolationAttempt("credentials", attempt, IsolationAttempt.Unknown, "the script's output line never arrived within 20 s")];
        }

        var seen = line.Split(' ').Where(part => part.EndsWith("=yes", StringComparison.Ordinal) || part == "metadata=readable").ToList();
        return [new IsolationAttempt("credentials", attempt, seen.Count > 0 ? IsolationAttempt.Allowed : IsolationAttempt.Refused, line)];
    }

    private async Task<IReadOnlyList<IsolationAttempt>> StopTokenAttemptsAsync(Context context, BenchNode node, CancellationToken cancellationToken)
    {
        var w = context.Workloads;
        var first = await w.SendAsync(node, w.BuildDeploy(node, V8Echo, "replay", argv: null, triggers: ["campaign.replay"]), cancellationToken).ConfigureAwait(false);
        var captured = await w.BuildStopAsync(first, cancellationToken).ConfigureAwait(false);
        await w.StopAsync(first, captured, cancellationToken).ConfigureAwait(false);

        // 0.2's rule refuses a stop whose iat is the deploy's second: deploy again in a later second than the
        // captured token's, as an attacker replaying it later would.
        await Task.Delay(1100, cancellationToken).ConfigureAwait(false);
        var second = await w.SendAsync(node, w.BuildDeploy(node, V8Echo, "replay", argv: null, triggers: ["campaign.replay"]), cancellationToken).ConfigureAwait(false);
        var replay = await StopAttemptAsync(context, node, captured with { WorkloadId = second.Id }, "stop token replayed against a later deployment of the same name", cancellationToken).ConfigureAwait(false);

        var old = await w.SendAsync(node, w.BuildDeploy(node, V8Echo, "oldstop", argv: null, triggers: ["campaign.oldstop"]), cancellationToken).ConfigureAwait(false);
        var ancient = new StopRequest { WorkloadId = old.Id, TargetNode = node.NodeId, WorkloadJwt = WorkloadJwt.Issue(w.Issuer, "oldstop", hash: null, DateTimeOffset.FromUnixTimeSeconds(1)) };
        var epoch = await StopAttemptAsync(context, node, ancient, "stop JWT issued in 1970 (iat 1)", cancellationToken).ConfigureAwait(false);
        return [replay, epoch];
    }

    private static async Task<IsolationAttempt> StopAttemptAsync(Context context, BenchNode node, StopRequest request, string attempt, CancellationToken cancellationToken)
    {
        try
        {
            var response = await context.Client.StopAsync(node.NodeId, request, cancellationToken).ConfigureAwait(false);
            return new IsolationAttempt("stop token", attempt, response.Stopped ? IsolationAttempt.Allowed : IsolationAttempt.Refused, $"stopped: {response.Stopped}");
        }
        catch (NexClientException ex)
        {
            return new IsolationAttempt("stop token", attempt, IsolationAttempt.Refused, Clip(ex.Message));
        }
    }

    private async Task<IsolationAttempt> DeployAttemptAsync(NatsConnection caller, string group, string attempt, string subject, DeployRequest request, CancellationToken cancellationToken)
    {
        byte[]? reply;
        try
        {
            reply = await RawRequestAsync(caller, subject, JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.DeployRequest), _settings.DeployReplyTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (NatsNoRespondersException)
        {
            return new IsolationAttempt(group, attempt, IsolationAttempt.Refused, "no node subscribes to that subject");
        }

        if (reply is null)
        {
            return new IsolationAttempt(group, attempt, IsolationAttempt.Unknown, "no reply");
        }

        var (category, error) = ReplyClassifier.Classify(reply);
        return category == ReplyCategory.Accepted
            ? new IsolationAttempt(group, attempt, IsolationAttempt.Allowed, "deployed")
            : new IsolationAttempt(group, attempt, IsolationAttempt.Refused, Clip(error ?? ""));
    }

    private static async Task<ProbeReply> ProbeAsync(NatsConnection caller, string subject, JsonObject command, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            byte[]? reply;
            try
            {
                reply = await RawRequestAsync(caller, subject, Encoding.UTF8.GetBytes(command.ToJsonString()), TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            }
            catch (NatsNoRespondersException)
            {
                // The function's trigger is not subscribed yet.
                if (DateTime.UtcNow > deadline)
                {
                    return new ProbeReply(false, $"nothing answers on {subject}");
                }

                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (reply is null)
            {
                return new ProbeReply(false, "the function gave no reply within 10 s");
            }

            try
            {
                var json = JsonNode.Parse(reply)!.AsObject();
                var ok = json["ok"]?.GetValue<bool>() == true;
                var text = ok ? json["result"]?.ToString() ?? "" : json["error"]?.ToString() ?? "";
                return new ProbeReply(ok, text);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or NullReferenceException)
            {
                return new ProbeReply(false, "unexpected reply: " + Encoding.UTF8.GetString(reply));
            }
        }
    }

    /// <summary>The internal nats-server's client port, from its config file (<c>listen: "host:port"</c>).</summary>
    private static int? InternalNatsPort(BenchNode node)
    {
        foreach (var p in node.Processes().Where(p => p.Role == ProcessRole.InternalNats))
        {
            var args = Procfs.CommandLine(p.Pid)?.Split(' ') ?? [];
            var i = Array.IndexOf(args, "-c");
            if (i >= 0 && i + 1 < args.Length && File.Exists(args[i + 1]))
            {
                var match = Regex.Match(File.ReadAllText(args[i + 1]), "listen: \"[^\"]*:(\\d+)\"");
                if (match.Success)
                {
                    return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }

        return null;
    }

    private sealed record ProbeReply(bool Ok, string Text);
}
