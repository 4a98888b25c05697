using System.Text.Json;
using System.Text.Json.Serialization;

namespace Nex.Client;

/// <summary>A NATS CLI context file (<c>~/.config/nats/context/NAME.json</c>), the fields Nex uses.</summary>
public sealed record NatsContext
{
    /// <summary>Server URL(s).</summary>
    [JsonPropertyName("url")] public string? Url { get; init; }

    /// <summary>User.</summary>
    [JsonPropertyName("user")] public string? User { get; init; }

    /// <summary>Password.</summary>
    [JsonPropertyName("password")] public string? Password { get; init; }

    /// <summary>Token.</summary>
    [JsonPropertyName("token")] public string? Token { get; init; }

    /// <summary>Credentials file.</summary>
    [JsonPropertyName("creds")] public string? Creds { get; init; }

    /// <summary>Nkey seed file.</summary>
    [JsonPropertyName("nkey")] public string? Nkey { get; init; }

    /// <summary>Client certificate.</summary>
    [JsonPropertyName("cert")] public string? Cert { get; init; }

    /// <summary>Client key.</summary>
    [JsonPropertyName("key")] public string? Key { get; init; }

    /// <summary>CA bundle.</summary>
    [JsonPropertyName("ca")] public string? Ca { get; init; }

    /// <summary>TLS before the NATS handshake.</summary>
    [JsonPropertyName("tls_first")] public bool TlsFirst { get; init; }

    /// <summary>The NATS CLI's context directory (honours <c>XDG_CONFIG_HOME</c>).</summary>
    public static string DefaultDirectory()
    {
        var config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        if (string.IsNullOrEmpty(config))
        {
            config = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        }

        return Path.Combine(config, "nats", "context");
    }

    /// <summary>The context chosen with <c>nats context select</c>, or null.</summary>
    public static string? SelectedName(string? directory = null)
    {
        directory ??= DefaultDirectory();
        var selected = Path.Combine(Path.GetDirectoryName(directory)!, "context.txt");
        if (!File.Exists(selected))
        {
            return null;
        }

        var name = File.ReadAllText(selected).Trim();
        return name.Length == 0 || !File.Exists(Path.Combine(directory, name + ".json")) ? null : name;
    }

    /// <summary>Reads a context by name.</summary>
    /// <exception cref="NexClientException">It does not exist or is not valid JSON.</exception>
    public static NatsContext Load(string name, string? directory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        directory ??= DefaultDirectory();
        var path = name.EndsWith(".json", StringComparison.Ordinal) && File.Exists(name) ? name : Path.Combine(directory, name + ".json");
        if (!File.Exists(path))
        {
            throw new NexClientException($"unknown NATS context '{name}' (no {path})");
        }

        try
        {
            var ctx = JsonSerializer.Deserialize(File.ReadAllText(path), NatsContextJsonContext.Default.NatsContext)
                ?? throw new NexClientException($"NATS context '{name}' is empty");
            return ctx with
            {
                Creds = ExpandHome(ctx.Creds),
                Nkey = ExpandHome(ctx.Nkey),
                Cert = ExpandHome(ctx.Cert),
                Key = ExpandHome(ctx.Key),
                Ca = ExpandHome(ctx.Ca),
            };
        }
        catch (JsonException ex)
        {
            throw new NexClientException($"NATS context '{name}' ({path}) is not valid JSON: {ex.Message}", ex);
        }
    }

    private static string? ExpandHome(string? path) =>
        path is not null && path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..])
            : path;
}

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(NatsContext))]
internal sealed partial class NatsContextJsonContext : JsonSerializerContext;
