using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using NATS.NKeys;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Testing;

/// <summary>Desired-state records written straight into <see cref="DesiredState.Bucket"/>, as a node writes them.</summary>
public static class DesiredRecords
{
    /// <summary>
    /// Puts a record of a native workload named <paramref name="name"/> in namespace <paramref name="ns"/>, run (or
    /// last run) by <paramref name="nodeId"/>, its deploy JWT signed by <paramref name="issuer"/> a minute ago.
    /// </summary>
    /// <returns>The record's key and its current workload id (<paramref name="currentId"/>, else the key's first id).</returns>
    public static async Task<(string Key, string CurrentId)> PutAsync(
        INatsConnection nats,
        string ns,
        string name,
        KeyPair issuer,
        string nodeId,
        bool handoff = false,
        string? currentId = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        var firstId = Xid.NewId();
        var key = DesiredState.Key(ns, firstId);
        var now = DateTimeOffset.UtcNow;
        var record = new DesiredWorkload
        {
            Namespace = ns,
            Name = name,
            NodeId = nodeId,
            WorkloadId = currentId ?? firstId,
            Request = new DeployRequest { WorkloadJwt = WorkloadJwt.Issue(issuer, name, WorkloadJwt.PlaceholderHash, now.AddMinutes(-1)), Type = WorkloadTypes.Native },
            CreatedAt = now,
            UpdatedAt = now,
            Handoff = handoff,
        };
        var store = await new NatsKVContext(new NatsJSContext(nats)).GetStoreAsync(DesiredState.Bucket, cancellationToken);
        await store.PutAsync(key, JsonSerializer.SerializeToUtf8Bytes(record, NexJson.Context.DesiredWorkload), cancellationToken: cancellationToken);
        return (key, record.WorkloadId);
    }
}
