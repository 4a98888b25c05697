using System.Buffers;
using System.Text.Json;
using NATS.Client.JetStream;

namespace Nex.Node.HostServices;

/// <summary>KV / object store settings (spec §6.4): <c>bucket_name</c>, <c>max_bytes</c>, <c>jit_provision</c>.</summary>
/// <param name="Bucket">Bucket name, placeholders already replaced.</param>
/// <param name="MaxBytes">Size limit used when the bucket is provisioned.</param>
/// <param name="JitProvision">Create the bucket on first use when it is missing.</param>
internal sealed record BucketSettings(string Bucket, long MaxBytes, bool JitProvision)
{
    public const long DefaultMaxBytes = 524288;

    public static BucketSettings From(JsonElement? config, string suffix, HostServiceCaller caller) =>
        new(
            ServiceSettings.BucketName(ServiceSettings.String(config, "bucket_name", "hs_${namespace}_${workload_name}_" + suffix), caller),
            ServiceSettings.Int64(config, "max_bytes", DefaultMaxBytes),
            ServiceSettings.Boolean(config, "jit_provision", fallback: true));

    /// <summary>True for the JetStream "stream not found" API error a missing bucket produces.</summary>
    public static bool IsMissingBucket(Exception ex) =>
        ex is NatsJSApiException { Error.Code: 404 } || ex.InnerException is NatsJSApiException { Error.Code: 404 };

    public InvalidOperationException Missing() => new($"bucket {Bucket} not found and jit_provision is off");
}

/// <summary>Small JSON writers for reply bodies.</summary>
internal static class ReplyJson
{
    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Success() => Write(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("success", true);
        w.WriteEndObject();
    });
}
