using System.Text.Json;
using NATS.Client.Core;

namespace Nex.Testing;

/// <summary>Records every message on a subject (e.g. <c>$NEX.events.&gt;</c>) so a test can wait for one.</summary>
public sealed class Recorder : IAsyncDisposable
{
    private readonly INatsSub<byte[]> _sub;
    private readonly List<(string Subject, byte[] Data, DateTime At)> _seen = [];
    private readonly Task _pump;
    private readonly SemaphoreSlim _signal = new(0);

    private Recorder(INatsSub<byte[]> sub)
    {
        _sub = sub;
        _pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var msg in sub.Msgs.ReadAllAsync())
                {
                    lock (_seen)
                    {
                        _seen.Add((msg.Subject, msg.Data ?? [], DateTime.UtcNow));
                    }

                    _signal.Release();
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public static async Task<Recorder> StartAsync(INatsConnection connection, string subject)
    {
        var sub = await connection.SubscribeCoreAsync<byte[]>(subject);
        await connection.PingAsync();
        return new Recorder(sub);
    }

    public IReadOnlyList<(string Subject, JsonElement Body, DateTime At)> All
    {
        get
        {
            lock (_seen)
            {
                return [.. _seen.Select(s => (s.Subject, Parse(s.Data), s.At))];
            }
        }
    }

    /// <summary>Waits for the first message matching <paramref name="match"/>.</summary>
    public async Task<(string Subject, JsonElement Body, DateTime At)> WaitAsync(Func<string, JsonElement, bool> match, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var found = All.FirstOrDefault(m => match(m.Subject, m.Body));
            if (found.Subject is not null)
            {
                return found;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no {what} within {timeout}; saw:\n" + string.Join("\n", All.Select(m => $"{m.Subject} {m.Body}")));
            }

            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>An event of this type about this workload id.</summary>
    public Task<(string Subject, JsonElement Body, DateTime At)> WaitForEventAsync(string type, string workloadId, TimeSpan? timeout = null) =>
        WaitAsync(
            (subject, body) => subject.EndsWith("." + type, StringComparison.Ordinal) && body.ValueKind == JsonValueKind.Object
                && (body.GetProperty("source").GetString()!.EndsWith(workloadId, StringComparison.Ordinal)
                    || (body.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("vmid", out var v) && v.GetString() == workloadId)),
            timeout ?? TimeSpan.FromSeconds(15),
            $"{type} event for {workloadId}");

    public async ValueTask DisposeAsync()
    {
        await _sub.DisposeAsync();
        await _pump;
        _signal.Dispose();
    }

    private static JsonElement Parse(byte[] data)
    {
        try
        {
            return JsonDocument.Parse(data).RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonDocument.Parse(JsonSerializer.Serialize(System.Text.Encoding.UTF8.GetString(data), NexTestJson.Default.String)).RootElement.Clone();
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class NexTestJson : System.Text.Json.Serialization.JsonSerializerContext;
