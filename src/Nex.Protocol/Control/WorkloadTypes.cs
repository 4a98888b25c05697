namespace Nex.Protocol;

/// <summary>Workload type names (<c>NexWorkload</c> in Go).</summary>
public static class WorkloadTypes
{
    /// <summary>Static ELF service.</summary>
    public const string Native = "native";

    /// <summary>JavaScript function.</summary>
    public const string V8 = "v8";

    /// <summary>WASI function.</summary>
    public const string Wasm = "wasm";

    /// <summary>OCI image (declared, not implemented in 0.2.7).</summary>
    public const string Oci = "oci";

    /// <summary>True for function types (<c>v8</c>, <c>wasm</c>), compared case-insensitively like the Go agent.</summary>
    /// <param name="type">Workload type.</param>
    /// <returns>Whether the type is triggered by subjects.</returns>
    public static bool IsFunction(string? type)
        => string.Equals(type, V8, StringComparison.OrdinalIgnoreCase) || string.Equals(type, Wasm, StringComparison.OrdinalIgnoreCase);
}
