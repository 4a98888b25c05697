using Nex.Node.Config;
using Nex.Node.Machines.Container;
using Nex.Protocol;

namespace Nex.Node.Workloads;

/// <summary>Builds what the node asks an agent to run (spec §5.4) from a validated deploy: no I/O.</summary>
internal static class AgentDeployRequests
{
    /// <summary>The per-invocation limit of a function: the deploy's own, else the node's.</summary>
    public static TimeSpan FunctionTimeout(DeployRequest request, NodeConfig config) =>
        TimeSpan.FromMilliseconds(request.FunctionTimeoutMs is > 0 and var ms ? ms : config.FunctionTimeoutMs);

    /// <summary>The agent's deploy request.</summary>
    /// <param name="deploy">The validated deploy.</param>
    /// <param name="artifact">Its artifact (inlined when small, and not an image).</param>
    /// <param name="functionTimeout">See <see cref="FunctionTimeout"/>.</param>
    /// <param name="image">The OCI image's config, for an oci workload; else null.</param>
    /// <param name="workloadNatsUrl">The NATS URL a sandboxed service is given, or null when there is none.</param>
    /// <param name="config">The node's config (V8 and memory limits).</param>
    public static AgentDeployRequest Build(ValidatedDeploy deploy, Artifact artifact, TimeSpan functionTimeout, OciImageConfig? image, string? workloadNatsUrl, NodeConfig config)
    {
        var request = deploy.Request;
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in image?.Env ?? [])
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                environment[pair[..eq]] = pair[(eq + 1)..];
            }
        }

        foreach (var (key, value) in deploy.Environment)
        {
            environment[key] = value;
        }

        // Docker's rule: the entrypoint, then the deploy's argv or else the image's Cmd; without an
        // entrypoint, the argv or the Cmd is the whole command.
        string? command = null;
        var argv = request.Argv;
        if (image is not null)
        {
            var full = image.Entrypoint.Count > 0
                ? [.. image.Entrypoint, .. request.Argv is { Count: > 0 } given ? given : image.Cmd]
                : request.Argv is { Count: > 0 } own ? own : image.Cmd;
            command = full[0];
            argv = [.. full.Skip(1)];
        }

        // Services usually need NATS: give them the node's own server unless the deployer chose one.
        // (A sandboxed service sees it through the sandbox's relay; with none configured it gets no URL.)
        if (request.Type is WorkloadTypes.Native or WorkloadTypes.Oci && workloadNatsUrl is not null && !environment.Keys.Any(k => string.Equals(k, "NATS_URL", StringComparison.OrdinalIgnoreCase)))
        {
            environment["NATS_URL"] = workloadNatsUrl;
        }

        return new AgentDeployRequest
        {
            Argv = argv,
            Command = command,
            WorkingDirectory = image?.WorkingDir is { Length: > 0 } dir ? dir : null,
            Description = request.Description ?? "",
            Environment = environment,
            Essential = request.Essential == true,
            Hash = artifact.Sha256,
            Namespace = deploy.Namespace,
            RetriedAt = request.RetriedAt,
            RetryCount = request.RetryCount,
            TotalBytes = artifact.Bytes.LongLength,
            TriggerSubjects = request.TriggerSubjects,
            WorkloadName = deploy.Claims.Sub,
            WorkloadType = request.Type,
            FunctionTimeoutMs = (int)functionTimeout.TotalMilliseconds,
            FunctionContext = request.FunctionContext ?? string.Empty,
            MaxSourceBytes = config.V8MaxSourceBytes,
            MaxMemoryBytes = config.FunctionMemoryMib * 1024L * 1024L,
            InlineArtifact = image is null && artifact.Bytes.Length <= AgentDeployRequest.InlineArtifactLimit ? artifact.Bytes : null,
        };
    }
}
