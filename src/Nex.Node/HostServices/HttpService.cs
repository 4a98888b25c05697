using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Nex.Protocol;

namespace Nex.Node.HostServices;

/// <summary>
/// The <c>http</c> host service (spec §6.3). The URL in <c>x-http-url</c> is used as is, path and query
/// string included (0.2 rebuilt it, doubling the slash and dropping the query: spec §11 #10).
/// The reply body is always an <see cref="HttpServiceResult"/>; the HTTP status goes in it, not in the code.
/// Destinations go through <see cref="HostHttpClient"/>'s policy: a refused one is a 403 with one line.
/// </summary>
internal sealed class HttpService(HostHttpClient http) : IHostService
{
    public static readonly TimeSpan Timeout = HostHttpClient.Timeout;

    public async Task<HostServiceResponse> HandleAsync(string method, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var httpMethod = method switch
        {
            "get" => HttpMethod.Get,
            "post" => HttpMethod.Post,
            "put" => HttpMethod.Put,
            "patch" => HttpMethod.Patch,
            "delete" => HttpMethod.Delete,
            "head" => HttpMethod.Head,
            _ => null,
        };
        if (httpMethod is null)
        {
            return HostServiceResponse.UnknownMethod(HostServicesProtocol.Http, method);
        }

        var url = ServiceSettings.Header(headers, HostServicesProtocol.UrlHeader);
        if (url is null)
        {
            return HostServiceResponse.Fail(HostServiceResponse.BadRequest, $"{HostServicesProtocol.UrlHeader} header is required");
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return HostServiceResponse.Fail(HostServiceResponse.BadRequest, $"invalid URL: {url}");
        }

        using var request = new HttpRequestMessage(httpMethod, uri);
        if (httpMethod == HttpMethod.Post || httpMethod == HttpMethod.Put || httpMethod == HttpMethod.Patch)
        {
            request.Content = new ByteArrayContent(body.ToArray());
        }

        if (ServiceSettings.Header(headers, HostServicesProtocol.HttpHeadersHeader) is { } headerJson)
        {
            var error = ApplyHeaders(request, headerJson);
            if (error is not null)
            {
                return HostServiceResponse.Fail(HostServiceResponse.BadRequest, error);
            }
        }

        // The function's trace goes on to the server, as OTel's HTTP instrumentation does: while the node traces,
        // HttpClient adds the host-service span's context itself; otherwise the caller's context passes through.
        if (System.Diagnostics.Activity.Current is null && ServiceSettings.Header(headers, TraceHeaders.TraceParent) is { } parent
            && !request.Headers.Contains(TraceHeaders.TraceParent))
        {
            request.Headers.TryAddWithoutValidation(TraceHeaders.TraceParent, parent);
            if (ServiceSettings.Header(headers, TraceHeaders.TraceState) is { } state)
            {
                request.Headers.TryAddWithoutValidation(TraceHeaders.TraceState, state);
            }
        }

        if (request.Content is { Headers.ContentType: null } content)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            using var response = await http.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var text = httpMethod == HttpMethod.Head ? string.Empty : await ReadBodyAsync(response.Content, timeout.Token).ConfigureAwait(false);
            var result = new HttpServiceResult
            {
                Status = (int)response.StatusCode,
                Headers = CollectHeaders(response),
                Body = text,
            };
            return HostServiceResponse.Ok(Serialize(result));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return TransportError($"request to {url} timed out after {Timeout.TotalSeconds} s");
        }
        catch (HttpRequestException ex) when (Refusal(ex) is { } refused)
        {
            return HostServiceResponse.Fail(HostServiceResponse.Forbidden, refused.Message);
        }
        catch (HttpRequestException ex)
        {
            return TransportError(ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message);
        }
    }

    private static HttpDestinationRefusedException? Refusal(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpDestinationRefusedException refused)
            {
                return refused;
            }
        }

        return null;
    }

    private static HostServiceResponse TransportError(string error) =>
        new(HostServiceResponse.Failure, $"Failed to execute host service method: {error}", Serialize(new HttpServiceResult { Error = error }));

    private static byte[] Serialize(HttpServiceResult result) =>
        JsonSerializer.SerializeToUtf8Bytes(result, NexJson.Context.HttpServiceResult);

    /// <summary>Applies <c>x-http-headers</c> (name → string or array of strings); returns an error text when malformed.</summary>
    private static string? ApplyHeaders(HttpRequestMessage request, string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            return $"{HostServicesProtocol.HttpHeadersHeader} is not valid JSON: {ex.Message}";
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return $"{HostServicesProtocol.HttpHeadersHeader} must be a JSON object";
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                List<string> values = [];
                switch (property.Value.ValueKind)
                {
                    case JsonValueKind.String:
                        values.Add(property.Value.GetString()!);
                        break;
                    case JsonValueKind.Array:
                        foreach (var item in property.Value.EnumerateArray())
                        {
                            if (item.ValueKind != JsonValueKind.String)
                            {
                                return $"{HostServicesProtocol.HttpHeadersHeader}: values of {property.Name} must be strings";
                            }

                            values.Add(item.GetString()!);
                        }

                        break;
                    default:
                        return $"{HostServicesProtocol.HttpHeadersHeader}: {property.Name} must be a string or an array of strings";
                }

                if (!request.Headers.TryAddWithoutValidation(property.Name, values)
                    && (request.Content is null || !request.Content.Headers.TryAddWithoutValidation(property.Name, values))
                    && request.Content is not null)
                {
                    return $"{HostServicesProtocol.HttpHeadersHeader}: cannot set header {property.Name}";
                }
            }
        }

        return null;
    }

    private static Dictionary<string, IReadOnlyList<string>> CollectHeaders(HttpResponseMessage response)
    {
        var headers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in response.Headers.NonValidated)
        {
            headers[name] = [.. values];
        }

        foreach (var (name, values) in response.Content.Headers.NonValidated)
        {
            headers[name] = [.. values];
        }

        return headers;
    }

    /// <summary>The body as text, decoding gzip/deflate when the handler did not already do so.</summary>
    private static async Task<string> ReadBodyAsync(HttpContent content, CancellationToken ct)
    {
        var encoding = content.Headers.ContentEncoding.LastOrDefault();
        if (encoding is null)
        {
            return await content.ReadAsStringAsync(ct).ConfigureAwait(false);
        }

        var raw = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (raw.ConfigureAwait(false))
        {
            Stream decoded = encoding.ToUpperInvariant() switch
            {
                "GZIP" => new GZipStream(raw, CompressionMode.Decompress, leaveOpen: true),
                "DEFLATE" => new ZLibStream(raw, CompressionMode.Decompress, leaveOpen: true),
                _ => raw,
            };
            await using (decoded.ConfigureAwait(false))
            {
                var charset = content.Headers.ContentType?.CharSet;
                var text = Encoding.UTF8;
                if (!string.IsNullOrEmpty(charset))
                {
                    try
                    {
                        text = Encoding.GetEncoding(charset.Trim('"'));
                    }
                    catch (ArgumentException)
                    {
                        // Unknown charset: UTF-8 is the best guess.
                    }
                }

                using var reader = new StreamReader(decoded, text, detectEncodingFromByteOrderMarks: true, leaveOpen: true);
                return await reader.ReadToEndAsync(ct).ConfigureAwait(false);
            }
        }
    }
}
