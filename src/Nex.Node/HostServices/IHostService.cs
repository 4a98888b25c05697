namespace Nex.Node.HostServices;

/// <summary>One host service (kv, objectstore, messaging, http) for one workload.</summary>
internal interface IHostService
{
    /// <summary>Runs <paramref name="method"/>. Expected failures are returned, not thrown; anything
    /// thrown becomes a 500 in <see cref="WorkloadHostServices"/>.</summary>
    Task<HostServiceResponse> HandleAsync(string method, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, CancellationToken ct);
}
