using Nex.Protocol;

namespace Nex.Client;

/// <summary>The OS and architecture an executable was built for, in Go's names (as node tags <c>nex.os</c>, <c>nex.arch</c>).</summary>
/// <param name="Os"><c>linux</c>, <c>windows</c> or <c>darwin</c>.</param>
/// <param name="Arch"><c>amd64</c> or <c>arm64</c>.</param>
public sealed record ExecutablePlatform(string Os, string Arch);

/// <summary>A running workload found by WPING, with the node that runs it.</summary>
/// <param name="NodeId">The node's id.</param>
/// <param name="NodeName">The node's <c>node_name</c> tag, or its id when untagged.</param>
/// <param name="Workload">The workload.</param>
public sealed record WorkloadLocator(string NodeId, string NodeName, WorkloadPingMachine Workload);

public sealed partial class NexClient
{
    /// <summary>
    /// The workload type a file most likely is, from its extension (case-insensitive): <c>.js</c> →
    /// <c>v8</c>, <c>.wasm</c> → <c>wasm</c>, anything else → <c>native</c>.
    /// </summary>
    /// <param name="path">A file path or object key.</param>
    /// <returns>One of <see cref="WorkloadTypes"/>.</returns>
    public static string WorkloadTypeForFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var extension = Path.GetExtension(path);
        if (string.Equals(extension, ".js", StringComparison.OrdinalIgnoreCase))
        {
            return WorkloadTypes.V8;
        }

        return string.Equals(extension, ".wasm", StringComparison.OrdinalIgnoreCase) ? WorkloadTypes.Wasm : WorkloadTypes.Native;
    }

    /// <summary>
    /// The first node that bids in an AUCTION (spec §1.5), without waiting out the rest of the window;
    /// null when no node answers within the timeout.
    /// </summary>
    /// <param name="request">The auction filters; null matches every node.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The first bid, or null.</returns>
    public async Task<PingResponse?> AuctionFirstAsync(AuctionRequest? request = null, CancellationToken cancellationToken = default)
    {
        var payload = request is null ? [] : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(request, NexJson.Context.AuctionRequest);
        var inbox = _connection.NewInbox();
        await using var sub = await _connection.SubscribeCoreAsync<byte[]>(inbox, cancellationToken: cancellationToken).ConfigureAwait(false);
        await _connection.PublishAsync(NexSubjects.Auction, payload, replyTo: inbox, cancellationToken: cancellationToken).ConfigureAwait(false);

        using var window = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        window.CancelAfter(Options.Timeout);
        try
        {
            await foreach (var msg in sub.Msgs.ReadAllAsync(window.Token).ConfigureAwait(false))
            {
                if (msg.HasNoResponders)
                {
                    return null;
                }

                if (msg.Data is { Length: > 0 } data
                    && NexEnvelope.Parse(data, NexJson.Context.PingResponse) is { Error: null or "", Data: { } bid })
                {
                    return bid;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The window closed without a bid.
        }

        return null;
    }

    /// <summary>
    /// Every running workload in this namespace whose id equals <paramref name="workloadIdOrName"/> or whose
    /// name equals it (case-insensitively), with its node, by WPING (spec §1.6); all of them when null.
    /// </summary>
    /// <param name="workloadIdOrName">A workload id or name, or null for all.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The workloads, ordered by node name then workload name and id.</returns>
    public async Task<IReadOnlyList<WorkloadLocator>> FindWorkloadsAsync(string? workloadIdOrName = null, CancellationToken cancellationToken = default)
    {
        var replies = await WorkloadPingAsync(workloadIdOrName, cancellationToken).ConfigureAwait(false);
        return [.. replies
            .SelectMany(r => r.RunningMachines.Select(m => new WorkloadLocator(r.NodeId, r.Tags?.GetValueOrDefault("node_name") ?? r.NodeId, m)))
            .Where(w => string.IsNullOrEmpty(workloadIdOrName)
                || string.Equals(w.Workload.Id, workloadIdOrName, StringComparison.Ordinal)
                || string.Equals(w.Workload.Name, workloadIdOrName, StringComparison.OrdinalIgnoreCase))
            .DistinctBy(w => (w.NodeId, w.Workload.Id))
            .OrderBy(w => w.NodeName, StringComparer.Ordinal)
            .ThenBy(w => w.Workload.Name, StringComparer.Ordinal)
            .ThenBy(w => w.Workload.Id, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Reads an executable's header to find its platform, as <c>nex devrun</c> does for native workloads
    /// (spec §9.3): ELF (machine 0x3E amd64, 0xB7 arm64: linux), PE (machine 0x8664 amd64, 0xAA64 arm64:
    /// windows) and 64-bit Mach-O (CPU type 0x07 amd64, 0x0C arm64: darwin).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <returns>The platform, or null when the file is not such an executable or cannot be read.</returns>
    public static ExecutablePlatform? DetectPlatform(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] header;
        try
        {
            using var file = File.OpenRead(path);
            header = new byte[4096];
            header = header[..file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return null;
        }

        return DetectPlatform(header);
    }

    internal static ExecutablePlatform? DetectPlatform(ReadOnlySpan<byte> header)
    {
        if (header.Length >= 20 && header[..4].SequenceEqual("\u007fELF"u8))
        {
            // e_machine, in the file's byte order (EI_DATA: 1 little, 2 big endian).
            var machine = header[5] == 2 ? (header[18] << 8) | header[19] : header[18] | (header[19] << 8);
            return machine switch
            {
                0x3E => new ExecutablePlatform("linux", "amd64"),
                0xB7 => new ExecutablePlatform("linux", "arm64"),
                _ => null,
            };
        }

        if (header.Length >= 0x40 && header[0] == (byte)'M' && header[1] == (byte)'Z')
        {
            var offset = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(header[0x3C..]);
            if (offset < 0 || offset > header.Length - 6 || !header[offset..(offset + 4)].SequenceEqual("PE\0\0"u8))
            {
                return null;
            }

            return System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(header[(offset + 4)..]) switch
            {
                0x8664 => new ExecutablePlatform("windows", "amd64"),
                0xAA64 => new ExecutablePlatform("windows", "arm64"),
                _ => null,
            };
        }

        if (header.Length >= 8 && header[..4].SequenceEqual((ReadOnlySpan<byte>)[0xCF, 0xFA, 0xED, 0xFE]))
        {
            return header[4] switch
            {
                0x07 => new ExecutablePlatform("darwin", "amd64"),
                0x0C => new ExecutablePlatform("darwin", "arm64"),
                _ => null,
            };
        }

        return null;
    }
}
