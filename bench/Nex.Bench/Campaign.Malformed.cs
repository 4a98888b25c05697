using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NATS.Client.Core;
using Nex.Client;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Bench;

/// <summary>Section 1: malformed control requests, each reply sorted into a <see cref="ReplyCategory"/>.</summary>
internal sealed partial class Campaign
{
    private async Task MalformedAsync(Context context, CampaignReport report, CancellationToken cancellationToken)
    {
        await using var node = await StartNodeAsync(context, poolSize: 4, tempDirectory: null, cancellationToken).ConfigureAwait(false);
        var result = new MalformedResult();
        report.Malformed = result;
        var batches = BuildCorpus(context, node);
        var closedBefore = await ClosedNodeConnectionsAsync(context.MonitorPort, cancellationToken).ConfigureAwait(false);
        var budget = _settings.MaxMalformed ?? int.MaxValue;
        foreach (var (name, requests) in batches)
        {
            if (budget <= 0)
            {
                break;
            }

            var batch = requests.Take(budget).ToList();
            budget -= batch.Count;
            _progress($"  {name}: {batch.Count} requests");
            await RunBatchAsync(context.Caller, batch, result, cancellationToken).ConfigureAwait(false);
            result.Batches++;
            if (!await PingsAsync(context.Caller, node.NodeId, cancellationToken).ConfigureAwait(false))
            {
                result.PingFailuresAfterBatch++;
                _progress($"  the node did not answer PING after {name}");
            }
        }

        // Connections of the node that the server closed meanwhile (e.g. a control line too long for it).
        var closedAfter = await ClosedNodeConnectionsAsync(context.MonitorPort, cancellationToken).ConfigureAwait(false);
        result.NodeConnectionsClosed = closedAfter.Count - closedBefore.Count;
        result.CloseReasons.AddRange(closedAfter.Skip(closedBefore.Count).Distinct().Take(10));
    }

    /// <summary>Reasons of the closed connections named <c>nex-node…</c> that the server's monitor still lists.</summary>
    private static async Task<List<string>> ClosedNodeConnectionsAsync(int monitorPort, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            var body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{monitorPort}/connz?state=closed&limit=10000"), cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(body);
            var reasons = new List<string>();
            if (doc.RootElement.TryGetProperty("connections", out var connections) && connections.ValueKind == JsonValueKind.Array)
            {
                foreach (var c in connections.EnumerateArray())
                {
                    if (c.TryGetProperty("name", out var n) && n.GetString() is { } name && name.StartsWith("nex-node", StringComparison.Ordinal))
                    {
                        reasons.Add(c.TryGetProperty("reason", out var r) ? r.GetString() ?? "" : "");
                    }
                }
            }

            return reasons;
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException)
        {
            return [];
        }
    }

    private async Task RunBatchAsync(INatsConnection connection, List<MalformedRequest> batch, MalformedResult result, CancellationToken cancellationToken)
    {
        using var gate = new SemaphoreSlim(_settings.Concurrency);
        var tasks = batch.Select(async request =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var timeout = request.Kind == "DEPLOY" ? _settings.DeployReplyTimeout : _settings.ReplyTimeout;
                ReplyCategory category;
                string? error = null;
                try
                {
                    var reply = await RawRequestAsync(connection, request.Subject, request.Body, timeout, cancellationToken).ConfigureAwait(false);
                    (category, error) = reply is null ? (ReplyCategory.NoReply, null) : ReplyClassifier.Classify(reply);
                }
                catch (NatsNoRespondersException)
                {
                    category = ReplyCategory.NoResponders;
                }
                catch (NatsException ex)
                {
                    // The campaign's own connection refused to send it (e.g. a subject it will not publish to).
                    category = ReplyCategory.NoResponders;
                    error = ex.Message;
                }

                Record(result, request, category, error);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private static void Record(MalformedResult result, MalformedRequest request, ReplyCategory category, string? error)
    {
        var key = JsonNamingPolicy.SnakeCaseLower.ConvertName(category.ToString());
        lock (result)
        {
            result.Total++;
            result.ByCategory[key] = result.ByCategory.GetValueOrDefault(key) + 1;
            if (!result.BySubject.TryGetValue(request.Kind, out var counts))
            {
                result.BySubject[request.Kind] = counts = [];
            }

            counts[key] = counts.GetValueOrDefault(key) + 1;
            var what = $"{request.Kind} {request.Label}";
            if (category == ReplyCategory.LeakyError && error is not null)
            {
                var reason = ReplyClassifier.LeakReason(error) ?? "not an envelope";
                var seen = result.LeakReasons.GetValueOrDefault(reason);
                result.LeakReasons[reason] = seen + 1;
                if (seen < 3)
                {
                    var line = error.Split('\n')[0];
                    line = line.Length > 160 ? line[..160] + "…" : line;
                    result.LeakyExamples.Add($"[{reason}] {what} → {line}");
                }
            }
            else if (category == ReplyCategory.NoReply && result.NoReplyExamples.Count < 15)
            {
                result.NoReplyExamples.Add(what);
            }
            else if (category == ReplyCategory.Accepted && request.Kind == "DEPLOY" && result.AcceptedDeployExamples.Count < 25)
            {
                result.AcceptedDeployExamples.Add(request.Label);
            }
        }
    }

    /// <summary>The corpus in named batches (the node's PING is checked after each); LAMEDUCK comes last.</summary>
    private List<(string Name, List<MalformedRequest> Requests)> BuildCorpus(Context context, BenchNode node)
    {
        var scale = _settings.CorpusScale;
        var id = node.NodeId;
        var bodies = MalformedCorpus.BadBodies(scale);
        var values = MalformedCorpus.BadValues(scale);
        var batches = new List<(string, List<MalformedRequest>)>();

        var deploy = JsonSerializer.SerializeToNode(context.Workloads.BuildDeploy(node, V8Echo, "malformed", argv: null, triggers: ["campaign.malformed"]), NexJson.Context.DeployRequest)!.AsObject();
        var stopJwt = WorkloadJwt.Issue(context.Workloads.Issuer, "malformed", hash: null, DateTimeOffset.UtcNow.AddSeconds(1));
        var stop = new JsonObject { ["workload_id"] = Xid.NewId(), ["workload_jwt"] = stopJwt, ["target_node"] = id };
        var auction = new JsonObject { ["arch"] = "amd64", ["os"] = "linux", ["sandboxed"] = false, ["tags"] = new JsonObject { ["a"] = "b" }, ["workload_types"] = new JsonArray("native") };
        var deployBody = Encoding.UTF8.GetBytes(deploy.ToJsonString());
        var stopBody = Encoding.UTF8.GetBytes(stop.ToJsonString());

        // 1. Bad bodies on every control subject (LAMEDUCK at the very end: it changes the node).
        var subjects = new (string Kind, string Subject)[]
        {
            ("PING", NexSubjects.Ping), ("PING", NexSubjects.PingNode(id)), ("AUCTION", NexSubjects.Auction),
            ("WPING", NexSubjects.WPing("default")), ("WPING", NexSubjects.WPing("default", "x")),
            ("INFO", NexSubjects.Info("default", id)), ("DEPLOY", NexSubjects.Deploy("default", id)), ("STOP", NexSubjects.Stop("default", id)),
        };
        foreach (var (kind, subject) in subjects)
        {
            batches.Add(($"bad bodies on {subject}", [.. bodies.Select(b => new MalformedRequest(kind, subject, b.Body, $"body {b.Label}"))]));
        }

        // 2. Bad namespaces in the subject, with bad bodies and with a well-formed body.
        foreach (var ns in MalformedCorpus.BadNamespaces)
        {
            var list = new List<MalformedRequest>();
            var label = $"ns {MalformedCorpus.Describe(ns)}";
            foreach (var (kind, subject, good) in new (string, string, byte[])[]
            {
                // Written out: the protocol's builders refuse these namespaces, and the point is to send them.
                ("INFO", $"$NEX.INFO.{ns}.{id}", []), ("DEPLOY", $"$NEX.DEPLOY.{ns}.{id}", deployBody),
                ("STOP", $"$NEX.STOP.{ns}.{id}", stopBody), ("WPING", $"$NEX.WPING.{ns}", []),
            })
            {
                list.Add(new MalformedRequest(kind, subject, good, $"{label}, well-formed body"));
                list.AddRange(bodies.Select(b => new MalformedRequest(kind, subject, b.Body, $"{label}, body {b.Label}")));
            }

            batches.Add(($"namespace {MalformedCorpus.Describe(ns)}", list));
        }

        // 3. Every field of DEPLOY, STOP and AUCTION: removed, and set to each bad value.
        foreach (var (kind, subject, template) in new (string, string, JsonObject)[]
        {
            ("DEPLOY", NexSubjects.Deploy("default", id), deploy), ("STOP", NexSubjects.Stop("default", id), stop), ("AUCTION", NexSubjects.Auction, auction),
        })
        {
            var list = new List<MalformedRequest>();
            foreach (var path in MalformedCorpus.FieldPaths(template).ToList())
            {
                list.Add(new MalformedRequest(kind, subject, MalformedCorpus.WithoutField(template, path), $"{path} removed"));
                list.AddRange(values.Select(v => new MalformedRequest(kind, subject, MalformedCorpus.WithField(template, path, v.Value), $"{path} = {v.Label}")));
            }

            batches.Add(($"{kind} fields", list));
        }

        // 4. Bad JWTs, keys, environments and locations in an otherwise good DEPLOY; bad JWTs in STOP.
        var deploySubject = NexSubjects.Deploy("default", id);
        var specific = new List<MalformedRequest>();
        var upload = deploy["workload_jwt"]!.GetValue<string>();
        var hash = WorkloadJwt.Decode(upload).Hash;
        foreach (var (label, jwt) in MalformedCorpus.BadJwts(context.Workloads.Issuer, "malformed", hash))
        {
            specific.Add(new MalformedRequest("DEPLOY", deploySubject, MalformedCorpus.WithField(deploy, "workload_jwt", jwt), $"jwt {label}"));
            specific.Add(new MalformedRequest("STOP", NexSubjects.Stop("default", id), MalformedCorpus.WithField(stop, "workload_jwt", jwt), $"jwt {label}"));
        }

        using var otherCurve = NexKeys.CreateCurve();
        using var otherServer = NexKeys.CreateServer();
        var wrongSeal = EnvironmentCipher.Encrypt(new Dictionary<string, string> { ["A"] = "b" }, otherCurve, otherCurve.GetPublicKey());
        foreach (var (path, value, label) in new (string, string, string)[]
        {
            ("environment", "AAAA", "environment short base64"),
            ("environment", Convert.ToBase64String(new byte[4096]), "environment zeros"),
            ("environment", wrongSeal, "environment sealed for another key"),
            ("sender_public_key", otherCurve.GetPublicKey(), "sender_public_key another curve key"),
            ("sender_public_key", otherServer.GetPublicKey(), "sender_public_key a server key"),
            ("target_node", otherServer.GetPublicKey(), "target_node another node"),
            ("type", "oci", "type oci"),
            ("type", "java", "type java"),
            ("type", "NATIVE", "type NATIVE"),
            ("location", "nats://NOBUCKET/x", "location missing bucket"),
            ("location", "http://127.0.0.1:1/x", "location http to a closed loopback port"),
            ("location", "file:///etc/passwd", "location file:///etc/passwd"),
            ("location", "nats:///", "location nats:///"),
            ("location", "nats://NEXCLIFILES/../../x", "location with .."),
            ("jsdomain", "a.b", "jsdomain a.b"),
            ("trigger_queue_group", "a b", "queue group with a space"),
            ("function_timeout_ms", "0", "function_timeout_ms string 0"),
        })
        {
            specific.Add(new MalformedRequest("DEPLOY", deploySubject, MalformedCorpus.WithField(deploy, path, JsonValue.Create(value)), label));
        }

        foreach (var trigger in new[] { "a b", "a..b", ".a", "a.", "a\u0000b", new string('t', 4100), "$NEX.>", "$SYS.>", "$JS.API.>" })
        {
            specific.Add(new MalformedRequest("DEPLOY", deploySubject, MalformedCorpus.WithField(deploy, "trigger_subjects", new JsonArray(trigger)), $"trigger {MalformedCorpus.Describe(trigger)}"));
        }

        specific.Add(new MalformedRequest("DEPLOY", deploySubject, MalformedCorpus.WithField(deploy, "trigger_subjects", new JsonArray([.. Enumerable.Range(0, 5000).Select(i => (JsonNode?)JsonValue.Create($"t.{i}"))])), "5,000 triggers"));
        specific.Add(new MalformedRequest("DEPLOY", deploySubject, MalformedCorpus.WithField(deploy, "argv", new JsonArray([.. Enumerable.Range(0, 20000).Select(i => (JsonNode?)JsonValue.Create("a"))])), "20,000 argv"));
        batches.Add(("DEPLOY/STOP JWTs, keys, environments, locations, triggers", specific));

        // 5. LAMEDUCK last: any body puts the node in lame duck (0.2 ignores the body).
        batches.Add(("bad bodies on LAMEDUCK", [.. bodies.Select(b => new MalformedRequest("LAMEDUCK", NexSubjects.LameDuck(id), b.Body, $"body {b.Label}"))]));
        return batches;
    }
}
