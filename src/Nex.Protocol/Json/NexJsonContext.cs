using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// System.Text.Json source-generated metadata for every Nex wire type.
/// </summary>
/// <remarks>
/// Do not use <c>NexJsonContext.Default</c> to write wire payloads: it lacks the Go <c>omitempty</c>
/// handling. Use <see cref="NexJson.Context"/> (or <see cref="NexJson.Options"/>), whose type metadata has
/// <see cref="NexJson.OmitEmptyModifier"/> applied.
/// </remarks>
[JsonSourceGenerationOptions(
    GenerationMode = JsonSourceGenerationMode.Metadata,
    PropertyNameCaseInsensitive = true,
    NumberHandling = JsonNumberHandling.Strict,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    Converters = [typeof(Rfc3339NanoConverter)])]
// Control API
[JsonSerializable(typeof(PingResponse))]
[JsonSerializable(typeof(AuctionRequest))]
[JsonSerializable(typeof(WorkloadPingResponse))]
[JsonSerializable(typeof(WorkloadPingMachine))]
[JsonSerializable(typeof(InfoResponse))]
[JsonSerializable(typeof(MemoryStat))]
[JsonSerializable(typeof(MachineSummary))]
[JsonSerializable(typeof(WorkloadSummary))]
[JsonSerializable(typeof(DeployRequest))]
[JsonSerializable(typeof(NatsJwtConnectionInfo))]
[JsonSerializable(typeof(WorkloadLocation))]
[JsonSerializable(typeof(RunResponse))]
[JsonSerializable(typeof(StopRequest))]
[JsonSerializable(typeof(StopResponse))]
[JsonSerializable(typeof(LameDuckResponse))]
[JsonSerializable(typeof(AutostartDeployRequest))]
[JsonSerializable(typeof(AutostartConfig))]
// Fleet
[JsonSerializable(typeof(DesiredWorkload))]
[JsonSerializable(typeof(WorkloadRecoveryFailedEvent))]
[JsonSerializable(typeof(NodeLease))]
[JsonSerializable(typeof(WorkloadRescheduledEvent))]
// Agent protocol
[JsonSerializable(typeof(AgentMetadata))]
[JsonSerializable(typeof(HandshakeRequest))]
[JsonSerializable(typeof(HandshakeResponse))]
[JsonSerializable(typeof(AgentDeployRequest))]
[JsonSerializable(typeof(AgentDeployResponse))]
[JsonSerializable(typeof(AgentLogEntry))]
[JsonSerializable(typeof(HttpServiceResult))]
// Events
[JsonSerializable(typeof(CloudEvent))]
[JsonSerializable(typeof(NodeStartedEvent))]
[JsonSerializable(typeof(NodeStoppedEvent))]
[JsonSerializable(typeof(AgentStartFailedEvent))]
[JsonSerializable(typeof(NodeHealthEvent))]
[JsonSerializable(typeof(LameDuckEnteredEvent))]
[JsonSerializable(typeof(NodeDrainedEvent))]
[JsonSerializable(typeof(HeartbeatEvent))]
[JsonSerializable(typeof(WorkloadDeployedEvent))]
[JsonSerializable(typeof(WorkloadUndeployedEvent))]
[JsonSerializable(typeof(FunctionExecSucceededEvent))]
[JsonSerializable(typeof(FunctionExecFailedEvent))]
// Logs
[JsonSerializable(typeof(RawLog))]
[JsonSerializable(typeof(LogRecord))]
// Helpers (CLI JSON output of scatter/gather results, plain maps and lists)
[JsonSerializable(typeof(List<PingResponse>))]
[JsonSerializable(typeof(List<WorkloadPingResponse>))]
[JsonSerializable(typeof(List<InfoResponse>))]
[JsonSerializable(typeof(List<CloudEvent>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(string))]
public partial class NexJsonContext : JsonSerializerContext;
