using System.Text.Json;
using NATS.Client.Core;
using Nex.Node.Host;
using Nex.Protocol;

namespace Nex.Node.ControlApi;

/// <summary>PING, AUCTION, WPING and INFO: read-only questions about the node (spec §1.4–1.7).</summary>
internal sealed partial class ControlApiListener
{
    private PingResponse BuildPing() => new()
    {
        NodeId = _node.NodeId,
        Nexus = _node.Nexus,
        Version = _node.Version,
        Uptime = _node.Uptime,
        TargetXkey = _node.Identity.PublicXKey,
        Tags = _node.Tags,
        RunningMachines = _workloads.RunningCount,
        Unhealthy = _node.Unhealthy,
    };

    private Task HandlePingAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken) =>
        ReplyAsync(msg, NexEnvelope.Success(ResponseTypes.Ping, BuildPing(), NexJson.Context.PingResponse)).AsTask();

    private Task HandleAuctionAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        AuctionRequest? request = null;
        if (msg.Data is { Length: > 0 } data)
        {
            try
            {
                request = JsonSerializer.Deserialize(data, NexJson.Context.AuctionRequest);
            }
            catch (JsonException)
            {
                // 0.2: an unparsable auction request applies no filter.
            }
        }

        // An unhealthy node could not run what it won (like a NotReady node in Kubernetes): no bid.
        if (_node.Unhealthy is not null || !AuctionMatcher.Matches(request, _node.Tags, _node.Config.IsNoSandbox, _node.Config.RunnableWorkloadTypes))
        {
            return Task.CompletedTask; // not a candidate: silence
        }

        // The bid is 0.2's (a PING reply) plus what the client scores it by (README, Placement).
        var bid = BuildPing() with { Capacity = BuildCapacity() };
        return ReplyAsync(msg, NexEnvelope.Success(ResponseTypes.Auction, bid, NexJson.Context.PingResponse)).AsTask();
    }

    // A lame-duck node or one whose agents fail to start still bids, as in 0.2; the flags let the client rank it last.
    private AuctionCapacity BuildCapacity()
    {
        var memory = HostStats.ReadMemory();
        return new AuctionCapacity
        {
            MaxWorkloads = _node.Config.NodeLimits.MaxWorkloads,
            MemoryTotalKb = memory?.Total,
            MemoryAvailableKb = memory?.Available,
            CpuCount = Environment.ProcessorCount,
            WarmAgents = _node.WarmAgents(),
            LameDuck = _node.IsLameDuck,
            AgentStartFailure = _workloads.AgentStartFailure,
        };
    }

    private Task HandleWorkloadPingAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        var ns = NexSubjects.TryGetToken(msg.Subject, 2);
        var filter = NexSubjects.TryGetToken(msg.Subject, 3);
        var matches = _workloads.Running
            .Where(w => string.IsNullOrWhiteSpace(ns) || string.Equals(w.Namespace, ns, StringComparison.OrdinalIgnoreCase))
            .Where(w => string.IsNullOrEmpty(filter) || w.Id == filter || string.Equals(w.Name, filter, StringComparison.OrdinalIgnoreCase))
            .Select(w => new WorkloadPingMachine { Id = w.Id, Namespace = w.Namespace, Name = w.Name, Type = w.Type })
            .ToList();
        if (matches.Count == 0)
        {
            return Task.CompletedTask; // 0.2: silence when nothing matches
        }

        var response = new WorkloadPingResponse
        {
            NodeId = _node.NodeId,
            TargetXkey = _node.Identity.PublicXKey,
            Version = _node.Version,
            Tags = _node.Tags,
            Uptime = _node.Uptime,
            RunningMachines = matches,
        };
        return ReplyAsync(msg, NexEnvelope.Success(ResponseTypes.Ping, response, NexJson.Context.WorkloadPingResponse)).AsTask();
    }

    private Task HandleInfoAsync(NatsMsg<byte[]> msg, CancellationToken cancellationToken)
    {
        var ns = NexSubjects.TryGetToken(msg.Subject, 2) ?? "";
        var now = _node.Time.GetUtcNow();
        var usage = _workloads.ReadUsage();
        var reachable = _node.InternalNatsHealth.IsUp; // agents are reached through the internal server
        var machines = _workloads.Running
            .Where(w => string.Equals(w.Namespace, ns, StringComparison.OrdinalIgnoreCase))
            .Select(w =>
            {
                var uptime = NexUptime.Format(now - w.DeployedAt);
                return new MachineSummary
                {
                    Id = w.Id,
                    Healthy = reachable,
                    Uptime = uptime,
                    Namespace = w.Namespace,
                    Workload = new WorkloadSummary
                    {
                        Name = w.Name,
                        Description = w.Description,
                        Runtime = WorkloadTypes.IsFunction(w.Type) ? NexUptime.FormatRuntime(w.FunctionRuntime) : uptime,
                        Type = w.Type,
                        Hash = w.Hash,
                    },
                    RetryCount = w.RetryCount,
                    Essential = w.Essential,
                    Resources = usage.TryGetValue(w.Id, out var used)
                        ? new MachineResources { MemoryBytes = used.MemoryBytes, MemoryLimitBytes = used.MemoryLimitBytes, CpuSeconds = Math.Round(used.CpuTime.TotalSeconds, 2), Processes = used.Processes }
                        : null,
                    Calls = w.Calls,
                };
            })
            .ToList();
        var response = new InfoResponse
        {
            Version = _node.Version,
            Uptime = _node.Uptime,
            PublicXkey = _node.Identity.PublicXKey,
            Tags = _node.Tags,
            Memory = HostStats.ReadMemory(),
            Machines = machines,
            SupportedWorkloadTypes = _node.Config.EffectiveWorkloadTypes,
            NatsDisconnects = _node.MainNatsDisconnects(),
            AgentStartFailure = _workloads.AgentStartFailure,
            Unhealthy = _node.Unhealthy,
            DesiredState = _workloads.DesiredStateProblem,
        };
        return ReplyAsync(msg, NexEnvelope.Success(ResponseTypes.Info, response, NexJson.Context.InfoResponse)).AsTask();
    }
}
