using Nex.Protocol;

namespace Nex.Agent.Providers;

/// <summary>Picks the provider by <c>workload_type</c> (case-insensitive, like the Go agent).</summary>
internal sealed class WorkloadProviderFactory : IWorkloadProviderFactory
{
    /// <inheritdoc />
    public IWorkloadProvider Create(WorkloadContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var type = context.Request.WorkloadType;
        if (Is(type, WorkloadTypes.Native))
        {
            return new NativeProcessProvider(context);
        }

        if (Is(type, WorkloadTypes.Wasm))
        {
            return new Wasm.WasmFunctionProvider(context);
        }

        if (Is(type, WorkloadTypes.V8))
        {
            return new V8.V8FunctionProvider(context);
        }

        if (Is(type, WorkloadTypes.Oci))
        {
            // The node made the image this sandbox's root; its entrypoint runs as a native process.
            return context.Request.Command is { Length: > 0 }
                ? new NativeProcessProvider(context)
                : throw new WorkloadProviderException("oci workloads run only in the container sandbox, whose root is the image");
        }

        throw new WorkloadProviderException($"invalid workload type provided: {type}");
    }

    private static bool Is(string type, string expected) => string.Equals(type, expected, StringComparison.OrdinalIgnoreCase);
}
