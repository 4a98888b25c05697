namespace Nex.Protocol;

/// <summary>Well-known node tag keys (spec §4.4).</summary>
public static class NexTags
{
    /// <summary>Go OS string (<c>linux</c>, <c>darwin</c>, <c>windows</c>).</summary>
    public const string Os = "nex.os";

    /// <summary>Go architecture string (<c>amd64</c>, <c>arm64</c>).</summary>
    public const string Arch = "nex.arch";

    /// <summary>Logical CPU count as a string.</summary>
    public const string CpuCount = "nex.cpucount";

    /// <summary><c>"true"</c> when the node runs without a sandbox.</summary>
    public const string Unsafe = "nex.unsafe";

    /// <summary><c>"true"</c> once the node entered lame duck mode.</summary>
    public const string LameDuck = "nex.lameduck";

    /// <summary>Human-friendly node name.</summary>
    public const string NodeName = "node_name";
}
