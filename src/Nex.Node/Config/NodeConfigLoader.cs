using System.Text.Json;
using System.Text.Json.Nodes;
using Nex.Protocol;

namespace Nex.Node.Config;

/// <summary>A configuration that cannot be used; the message is one line for the user.</summary>
public sealed class NodeConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads, merges and validates the node configuration file.</summary>
public static class NodeConfigLoader
{
    /// <summary>The default path, <c>./config.json</c>, as in 0.2.</summary>
    public const string DefaultPath = "config.json";

    private static readonly string[] KnownTypes = [WorkloadTypes.Native, WorkloadTypes.V8, WorkloadTypes.Wasm, WorkloadTypes.Oci];

    /// <summary>
    /// Loads <paramref name="path"/> on top of the defaults. A missing file is an error when the
    /// path was given explicitly (0.2 wording); a missing default <c>./config.json</c> means "use defaults".
    /// </summary>
    /// <param name="path">The file, or null for the default path.</param>
    /// <param name="warnings">Receives non-fatal findings (unknown keys).</param>
    /// <exception cref="NodeConfigException">The file is missing, malformed or invalid.</exception>
    public static NodeConfig Load(string? path, ICollection<string>? warnings = null)
    {
        var explicitPath = path is not null;
        path ??= DefaultPath;
        if (!File.Exists(path))
        {
            if (explicitPath)
            {
                throw new NodeConfigException($"failed to load configuration file: open {path}: no such file or directory");
            }

            return Validate(WithDefaults(new NodeConfig()));
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException($"failed to load configuration file: {path}: {ex.Message}", ex);
        }

        return Parse(text, path, warnings);
    }

    /// <summary>Parses configuration text on top of the defaults and validates it.</summary>
    public static NodeConfig Parse(string json, string source = "config", ICollection<string>? warnings = null)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            json = "{}"; // an empty file means "all defaults"
        }

        JsonNode? user;
        try
        {
            user = JsonNode.Parse(json, new JsonNodeOptions { PropertyNameCaseInsensitive = true }, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            var line = ex.LineNumber is { } n ? $" line {n + 1}" : "";
            throw new NodeConfigException($"failed to parse configuration file {source}{line}: {JsonErrors.Describe(ex)}", ex);
        }

        if (user is not JsonObject userObject)
        {
            throw new NodeConfigException($"failed to parse configuration file {source}: expected a JSON object");
        }

        var defaults = JsonSerializer.SerializeToNode(WithDefaults(new NodeConfig()), NodeConfigJsonContext.Default.NodeConfig)!.AsObject();
        ReportUnknownKeys(userObject, defaults, warnings);
        Merge(defaults, userObject);

        NodeConfig config;
        try
        {
            config = defaults.Deserialize(NodeConfigJsonContext.Default.NodeConfig)!;
        }
        catch (JsonException ex)
        {
            // The merged tree has no line numbers: read the user's own text again to find where the bad value is.
            var located = LocateTypeError(json) ?? ex;
            var line = located.LineNumber is { } n ? $" line {n + 1}" : "";
            throw new NodeConfigException($"invalid configuration file {source}{line}: {JsonErrors.Describe(located, NodeConfigJsonContext.Default.NodeConfig)}", ex);
        }

        return Validate(config);
    }

    private static NodeConfig WithDefaults(NodeConfig config) =>
        config.Tags.ContainsKey("node_name")
            ? config
            : config with { Tags = new Dictionary<string, string>(config.Tags) { ["node_name"] = NodeNames.Random() } };

    /// <summary>Checks the rules 0.2 checks and a few it should have; all problems in one line.</summary>
    public static NodeConfig Validate(NodeConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var errors = new List<string>();
        if (config.MachinePoolSize < 1)
        {
            errors.Add("machine_pool_size must be at least 1");
        }

        if (config.AgentHandshakeTimeoutMs <= 0)
        {
            errors.Add("agent_handshake_timeout_ms must be positive");
        }

        if (config.AgentPingTimeoutMs <= 0)
        {
            errors.Add("agent_ping_timeout_ms must be positive");
        }

        foreach (var type in config.WorkloadTypes)
        {
            if (!KnownTypes.Contains(type, StringComparer.Ordinal))
            {
                errors.Add($"unknown workload type '{type}' in workload_types (known: {string.Join(", ", KnownTypes)})");
            }
        }

        foreach (var issuer in config.ValidIssuers)
        {
            if (!Nex.Security.NexKeys.IsValidPublicKey(issuer, 'A') && !Nex.Security.NexKeys.IsValidPublicKey(issuer, 'O')
                && !Nex.Security.NexKeys.IsValidPublicKey(issuer, 'U') && !Nex.Security.NexKeys.IsValidPublicKey(issuer, 'N'))
            {
                errors.Add($"valid_issuers entry '{issuer}' is not a public nkey");
            }
        }

        foreach (var subject in config.DenyTriggerSubjects)
        {
            if (!SubjectMatcher.IsValidSubject(subject, allowWildcards: true))
            {
                errors.Add($"deny_trigger_subjects entry '{subject}' is not a valid subject");
            }
        }

        // Autostart entries face the deploy rules at start; a bad name or namespace is caught here instead.
        foreach (var entry in config.Autostart?.Workloads ?? [])
        {
            if (!Nex.Security.WorkloadJwt.IsValidWorkloadName(entry.Name))
            {
                errors.Add($"autostart workload name '{SubjectToken.Shorten(entry.Name)}' does not match {SubjectToken.NamePattern}");
            }
            else if (entry.Namespace.Length > 0 && SubjectToken.NamespaceProblem(entry.Namespace) is { } problem)
            {
                errors.Add($"autostart workload '{entry.Name}': {problem}");
            }
        }

        ValidateHostServices(config.HostServices, errors);
        errors.AddRange(Telemetry.TelemetrySettings.Problems(config));

        if (config.NodeLimits.MaxWorkloads < 0 || config.NodeLimits.MaxTotalBytes < 0 || config.NodeLimits.MaxWorkloadBytes < 0)
        {
            errors.Add("node_limits must not be negative");
        }

        if (config.Sandbox is { Length: > 0 } sandbox && Machines.SandboxDrivers.Find(sandbox) is null)
        {
            errors.Add($"sandbox must be one of {Machines.SandboxDrivers.NameList} (got '{sandbox}')");
        }

        if (config.EssentialRestart.InitialBackoffMs < 0 || config.EssentialRestart.MaxBackoffMs < config.EssentialRestart.InitialBackoffMs || config.EssentialRestart.ResetAfterMs < 0)
        {
            errors.Add("essential_restart needs 0 <= initial_backoff_ms <= max_backoff_ms and reset_after_ms >= 0");
        }

        if (config.Fleet.HeartbeatMs < 100 || config.Fleet.LeaseGraceMs < 2 * config.Fleet.HeartbeatMs || config.Fleet.DrainTimeoutMs < 0)
        {
            errors.Add("fleet needs heartbeat_ms >= 100, lease_grace_ms >= 2 × heartbeat_ms and drain_timeout_ms >= 0");
        }

        if (config.FunctionTimeoutMs <= 0 || config.V8MaxSourceBytes <= 0 || config.FunctionMemoryMib <= 0)
        {
            errors.Add("function_timeout_ms, v8_max_source_bytes and function_memory_mib must be positive");
        }

        if (config.MachineTemplate.VcpuCount < 1 || config.MachineTemplate.MemSizeMib < 16)
        {
            errors.Add("machine_template needs vcpu_count >= 1 and memsize_mib >= 16");
        }

        return errors.Count == 0 ? config : throw new NodeConfigException("invalid configuration: " + string.Join("; ", errors));
    }

    // The policy lists guard what functions reach, so a malformed one stops the node instead of
    // silently meaning "no restriction" (other service settings stay lenient, as in 0.2).
    private static void ValidateHostServices(HostServicesConfig? hostServices, List<string> errors)
    {
        if (hostServices is null)
        {
            return;
        }

        if (hostServices.Services.TryGetValue(HostServicesProtocol.Messaging, out var messaging))
        {
            Nex.Node.HostServices.MessagingPermissions.Parse(messaging?.Config, out var error);
            if (error is not null)
            {
                errors.Add($"host_services.services.messaging.config: {error}");
            }
        }

        if (hostServices.Services.TryGetValue(HostServicesProtocol.Http, out var http))
        {
            Nex.Node.HostServices.HttpDestinationPolicy.Parse(http?.Config, out var error);
            if (error is not null)
            {
                errors.Add($"host_services.services.http.config: {error}");
            }
        }
    }

    // Go's encoding/json decodes on top of the defaults: objects (and so maps) merge key by key,
    // everything else is replaced. Keys match case-insensitively, as Go does.
    private static void Merge(JsonObject target, JsonObject source)
    {
        foreach (var (key, value) in source.ToList())
        {
            var existingKey = target.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) ?? key;
            if (value is JsonObject sourceChild && target[existingKey] is JsonObject targetChild)
            {
                Merge(targetChild, sourceChild);
            }
            else
            {
                target[existingKey] = value?.DeepClone();
            }
        }
    }

    private static void ReportUnknownKeys(JsonObject user, JsonObject defaults, ICollection<string>? warnings)
    {
        if (warnings is null)
        {
            return;
        }

        var known = NodeConfigJsonContext.Default.NodeConfig.Properties.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, _) in user)
        {
            if (!known.Contains(key) && !defaults.ContainsKey(key))
            {
                warnings.Add($"unknown configuration key '{key}' ignored");
            }
        }
    }

    private static JsonException? LocateTypeError(string json)
    {
        var options = new JsonSerializerOptions(NodeConfigJsonContext.Default.Options)
        {
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            PropertyNameCaseInsensitive = true,
            TypeInfoResolver = NodeConfigJsonContext.Default,
        };
        try
        {
            _ = JsonSerializer.Deserialize(json, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<NodeConfig>)options.GetTypeInfo(typeof(NodeConfig)));
            return null;
        }
        catch (JsonException ex)
        {
            return ex;
        }
    }
}
