using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;

namespace Nex.Testing;

/// <summary>Puts workload artifacts into the JetStream object store, as a deployer would.</summary>
public static class Artifacts
{
    /// <summary>Uploads to a memory object store; on a cluster, <paramref name="replicas"/> up to its size.</summary>
    public static async Task<string> UploadAsync(NatsConnection connection, string bucket, string key, byte[] bytes, int replicas = 1)
    {
        var objects = new NatsObjContext(new NatsJSContext(connection));
        var store = await objects.CreateObjectStoreAsync(new NatsObjConfig(bucket) { Storage = NatsObjStorageType.Memory, NumberOfReplicas = replicas });
        await store.PutAsync(key, bytes);
        return $"nats://{bucket}/{key}";
    }

    public static Task<string> UploadFileAsync(NatsConnection connection, string bucket, string key, string path) =>
        UploadAsync(connection, bucket, key, File.ReadAllBytes(path));

    /// <summary>A shell script workload (runs as a native workload in no-sandbox mode).</summary>
    public static byte[] Script(string body) => System.Text.Encoding.UTF8.GetBytes("#!/bin/sh\n" + body + "\n");

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
}
