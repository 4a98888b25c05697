using NATS.NKeys;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Testing;

/// <summary>Stop requests for tests, with an <c>iat</c> safely after any deploy made just before.</summary>
public static class WorkloadRequestsForTests
{
    public static StopRequest Stop(string nodeId, string workloadId, string name, KeyPair issuer) => new()
    {
        WorkloadId = workloadId,
        WorkloadJwt = WorkloadJwt.Issue(issuer, name, null, DateTimeOffset.UtcNow.AddSeconds(2)),
        TargetNode = nodeId,
    };
}
