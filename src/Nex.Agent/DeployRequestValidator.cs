using Nex.Protocol;

namespace Nex.Agent;

/// <summary>The agent-side checks of a deploy request (spec §5.5), all errors collected in this order.</summary>
internal static class DeployRequestValidator
{
    /// <summary>Namespace missing.</summary>
    public const string NamespaceRequired = "namespace is required";

    /// <summary>Workload name missing.</summary>
    public const string WorkloadNameRequired = "workload name is required";

    /// <summary>Essential asked for a type other than native/oci.</summary>
    public const string EssentialNotSupported = "essential flag is not supported for workload type";

    /// <summary>Hash missing.</summary>
    public const string HashRequired = "hash is required";

    /// <summary>Total bytes not positive (so zero-byte artifacts are rejected).</summary>
    public const string TotalBytesRequired = "total bytes is required";

    /// <summary>Workload type missing.</summary>
    public const string WorkloadTypeRequired = "workload type is required";

    /// <summary>A function type without trigger subjects.</summary>
    public const string TriggerSubjectRequired = "at least one trigger subject is required for this workload type";

    /// <summary>Every problem with <paramref name="request"/>, in the 0.2 order; empty when it is valid.</summary>
    /// <param name="request">The request.</param>
    /// <returns>The error messages.</returns>
    public static IReadOnlyList<string> Validate(AgentDeployRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(request.Namespace))
        {
            errors.Add(NamespaceRequired);
        }

        if (string.IsNullOrWhiteSpace(request.WorkloadName))
        {
            errors.Add(WorkloadNameRequired);
        }

        if (request.Essential
            && !string.Equals(request.WorkloadType, WorkloadTypes.Native, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(request.WorkloadType, WorkloadTypes.Oci, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(EssentialNotSupported);
        }

        if (string.IsNullOrWhiteSpace(request.Hash))
        {
            errors.Add(HashRequired);
        }

        if (request.TotalBytes <= 0)
        {
            errors.Add(TotalBytesRequired);
        }

        if (string.IsNullOrWhiteSpace(request.WorkloadType))
        {
            errors.Add(WorkloadTypeRequired);
        }

        if (WorkloadTypes.IsFunction(request.WorkloadType) && (request.TriggerSubjects is null || request.TriggerSubjects.Count == 0))
        {
            errors.Add(TriggerSubjectRequired);
        }

        // The node checks it too; the agent refuses what it would otherwise silently ignore.
        if (FunctionContexts.Problem(request.FunctionContext, request.WorkloadType) is { } contextProblem)
        {
            errors.Add(contextProblem);
        }

        return errors;
    }

    /// <summary>The rejection message: the errors joined by newlines, or null when valid.</summary>
    /// <param name="request">The request.</param>
    /// <returns>The message, or null.</returns>
    public static string? RejectionMessage(AgentDeployRequest request) =>
        Validate(request) is { Count: > 0 } errors ? string.Join('\n', errors) : null;
}
