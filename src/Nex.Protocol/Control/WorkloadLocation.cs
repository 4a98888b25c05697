using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace Nex.Protocol;

/// <summary>
/// Where a workload artifact lives, normally <c>nats://BUCKET/key</c> (a JetStream object store bucket and
/// object key). On the wire (spec §1.8.1) it is Go's <c>url.URL</c> struct serialized as a JSON object.
/// </summary>
[JsonConverter(typeof(WorkloadLocationJsonConverter))]
public sealed record WorkloadLocation
{
    /// <summary>The empty location (Go's zero <c>url.URL</c>); it has no bucket and no key.</summary>
    public static WorkloadLocation Empty { get; } = new();

    /// <summary>URL scheme, normally <c>nats</c>. Not checked by the node.</summary>
    public string Scheme { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>URL host: the object store bucket name.</summary>
    public string Host { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>URL path (decoded), e.g. <c>/echoservice</c>.</summary>
    public string Path { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The object store bucket (same as <see cref="Host"/>).</summary>
    public string Bucket => Host;

    /// <summary>The object key: <see cref="Path"/> with leading and trailing <c>/</c> trimmed.</summary>
    public string Key => Path.Trim('/');

    /// <summary>Creates the location <c>nats://<paramref name="bucket"/>/<paramref name="key"/></c>.</summary>
    /// <param name="bucket">Object store bucket.</param>
    /// <param name="key">Object key.</param>
    /// <returns>The location.</returns>
    public static WorkloadLocation ForObject(string bucket, string key)
    {
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(key);
        return new WorkloadLocation { Scheme = "nats", Host = bucket, Path = "/" + key.TrimStart('/') };
    }

    /// <summary>
    /// Parses a URL of the form <c>scheme://host[/path][?query][#fragment]</c>. The query and fragment are
    /// ignored (the node never uses them); the path is percent-decoded.
    /// </summary>
    /// <param name="url">The URL text, e.g. <c>nats://NEXCLIFILES/echoservice</c>.</param>
    /// <returns>The parsed location.</returns>
    /// <exception cref="FormatException">The text has no scheme, no host (bucket), or invalid characters.</exception>
    public static WorkloadLocation Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!TryParse(url, out var location, out var error))
        {
            throw new FormatException($"Invalid workload location '{url}': {error}");
        }

        return location;
    }

    /// <summary>Parses like <see cref="Parse"/> without throwing.</summary>
    /// <param name="url">The URL text.</param>
    /// <param name="location">The parsed location, or <see langword="null"/> on failure.</param>
    /// <returns><see langword="true"/> when the text is a valid location.</returns>
    public static bool TryParse([NotNullWhen(true)] string? url, [NotNullWhen(true)] out WorkloadLocation? location)
        => TryParse(url, out location, out _);

    internal static bool TryParse([NotNullWhen(true)] string? url, [NotNullWhen(true)] out WorkloadLocation? location, out string error)
    {
        location = null;
        if (string.IsNullOrWhiteSpace(url))
        {
            error = "the location is empty; expected nats://BUCKET/key";
            return false;
        }

        foreach (var c in url)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                error = "the location contains whitespace or control characters";
                return false;
            }
        }

        var separator = url.IndexOf("://", StringComparison.Ordinal);
        if (separator <= 0)
        {
            error = "missing scheme; expected nats://BUCKET/key";
            return false;
        }

        var scheme = url[..separator];
        if (!char.IsAsciiLetter(scheme[0]) || !scheme.All(static c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
        {
            error = $"invalid scheme '{scheme}'";
            return false;
        }

        var rest = url[(separator + 3)..];
        var end = rest.IndexOfAny(['?', '#']);
        if (end >= 0)
        {
            rest = rest[..end];
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var host = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? string.Empty : rest[slash..];
        if (host.Length == 0)
        {
            error = "missing bucket (host); expected nats://BUCKET/key";
            return false;
        }

        try
        {
            path = Uri.UnescapeDataString(path);
        }
        catch (UriFormatException ex)
        {
            error = ex.Message;
            return false;
        }

        location = new WorkloadLocation { Scheme = scheme, Host = host, Path = path };
        error = string.Empty;
        return true;
    }

    /// <summary>Formats the location as a URL, e.g. <c>nats://BUCKET/key</c>.</summary>
    /// <returns>The URL text.</returns>
    public override string ToString()
    {
        var path = Path.Length == 0 || Path[0] == '/' ? Path : "/" + Path;
        var prefix = Scheme.Length == 0 ? "//" : Scheme + "://";
        return prefix + Host + path;
    }
}
