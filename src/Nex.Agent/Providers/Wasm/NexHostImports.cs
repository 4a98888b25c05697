using System.Text;
using System.Text.Json;
using Nex.Agent.HostServices;

namespace Nex.Agent.Providers.Wasm;

/// <summary>
/// The <c>nex</c> import module: host services for WASM functions (docs/wasm-host-services.md).
/// <list type="bullet">
/// <item><c>host_call(service_ptr, service_len, method_ptr, method_len, headers_ptr, headers_len, body_ptr, body_len) -> i32</c>:
/// calls <c>service.method</c> with the headers (a UTF-8 JSON object, name → string; other values are sent
/// as their JSON text; length 0 = none) and the body. Returns the result length (≥ 0) on success, or
/// −code on failure (−400 bad input, −404 unknown service, −500 failure); the result or the error
/// message is then readable with <c>host_result</c>.</item>
/// <item><c>host_result(buf_ptr, buf_len) -> i32</c>: copies min(buf_len, length) bytes of the last
/// result into guest memory and returns its full length; −1 when the buffer is outside memory.</item>
/// </list>
/// The call is synchronous for the guest: the execution's thread (the trigger's, a thread-pool thread) blocks
/// on the RPC, bounded by the function's remaining time. The RPC completes on other threads; .NET's thread pool
/// adds a thread at once when one of its own blocks on a task, so a blocked execution never starves it.
/// </summary>
internal static class NexHostImports
{
    /// <summary>The import module name.</summary>
    public const string ModuleName = "nex";

    /// <summary>Status returned for bad pointers or a malformed headers object.</summary>
    public const int BadInput = 400;

    private static readonly System.Buffers.SearchValues<char> SubjectSpecials = System.Buffers.SearchValues.Create(". *>\t\r\n");

    /// <summary>Defines <c>nex.host_call</c> and <c>nex.host_result</c>.</summary>
    /// <param name="linker">The linker.</param>
    /// <param name="current">The call in progress on the execution thread.</param>
    /// <param name="client">The host services client of this workload.</param>
    public static void Define(Wasmtime.Linker linker, Func<WasmCall> current, HostServicesClient client)
    {
        linker.DefineFunction(
            ModuleName,
            "host_call",
            (int servicePtr, int serviceLen, int methodPtr, int methodLen, int headersPtr, int headersLen, int bodyPtr, int bodyLen) =>
                HostCall(current(), client, servicePtr, serviceLen, methodPtr, methodLen, headersPtr, headersLen, bodyPtr, bodyLen));
        linker.DefineFunction(ModuleName, "host_result", (int bufferPtr, int bufferLen) => HostResult(current(), bufferPtr, bufferLen));
    }

    private static int HostCall(WasmCall call, HostServicesClient client, int servicePtr, int serviceLen, int methodPtr, int methodLen, int headersPtr, int headersLen, int bodyPtr, int bodyLen)
    {
        if (!WasiPreview1.TryGetSpan(call, servicePtr, serviceLen, out var serviceBytes)
            || !WasiPreview1.TryGetSpan(call, methodPtr, methodLen, out var methodBytes)
            || !WasiPreview1.TryGetSpan(call, headersPtr, headersLen, out var headerBytes)
            || !WasiPreview1.TryGetSpan(call, bodyPtr, bodyLen, out var bodyBytes))
        {
            return Fail(call, BadInput, "host_call: an argument lies outside the module's memory");
        }

        var service = Encoding.UTF8.GetString(serviceBytes);
        var method = Encoding.UTF8.GetString(methodBytes);
        if (!IsToken(service) || !IsToken(method))
        {
            return Fail(call, BadInput, "host_call: service and method must be non-empty and contain no '.', '*', '>' or whitespace");
        }

        Dictionary<string, string>? headers;
        try
        {
            headers = ParseHeaders(headerBytes);
        }
        catch (JsonException ex)
        {
            return Fail(call, BadInput, $"host_call: headers must be a JSON object: {ex.Message}");
        }

        var body = bodyBytes.ToArray();

        // Block this thread on the RPC. The token fires at the function's time limit, so a
        // slow host service cannot stretch it; the cancellation unwinds the guest as a timeout.
        var reply = client.CallAsync(service, method, headers, body, call.Trace, call.CancellationToken).GetAwaiter().GetResult();
        if (!reply.IsSuccess)
        {
            return Fail(call, reply.Code is > 0 ? reply.Code : 500, $"{reply.Message} ({reply.Code})");
        }

        call.HostResult = reply.Body;
        return reply.Body.Length;
    }

    private static int HostResult(WasmCall call, int bufferPtr, int bufferLen)
    {
        var result = call.HostResult.Span;
        var count = Math.Min(result.Length, Math.Max(bufferLen, 0));
        if (!WasiPreview1.TryGetSpan(call, bufferPtr, count, out var target))
        {
            return -1;
        }

        result[..count].CopyTo(target);
        return result.Length;
    }

    private static int Fail(WasmCall call, int code, string message)
    {
        call.HostResult = Encoding.UTF8.GetBytes(message);
        return -code;
    }

    private static bool IsToken(string value) =>
        value.Length > 0 && !value.AsSpan().ContainsAny(SubjectSpecials);

    private static Dictionary<string, string>? ParseHeaders(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return null;
        }

        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"got {document.RootElement.ValueKind}");
        }

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            headers[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
        }

        return headers;
    }
}
