using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NATS.NKeys;
using Nex.Protocol;

namespace Nex.Agent;

/// <summary>
/// Reads <see cref="AgentSettings"/> from the environment, or from a metadata file named by
/// <c>NEX_METADATA_FILE</c> (the sandbox drivers' channel) with environment variables taking precedence.
/// </summary>
internal static class AgentSettingsLoader
{
    /// <summary>The handshake message in no-sandbox mode.</summary>
    public const string NoSandboxMessage = "Metadata obtained from no-sandbox environment";

    /// <summary>The handshake message when metadata came from the host but carried none.</summary>
    public const string HostSuppliedMessage = "Host-supplied metadata";

    /// <summary>Loads the settings of this process.</summary>
    /// <param name="settings">The settings, when valid.</param>
    /// <param name="error">One line saying what is wrong, when not.</param>
    /// <returns>Whether the settings are usable.</returns>
    public static bool TryLoad(out AgentSettings? settings, out string error) =>
        TryLoad(Environment.GetEnvironmentVariable, File.ReadAllText, out settings, out error, ReadStandardInput);

    /// <summary>Loads settings from the given variables (empty values count as unset).</summary>
    /// <param name="variables">Environment lookup.</param>
    /// <param name="readFile">Reads the metadata file.</param>
    /// <param name="settings">The settings, when valid.</param>
    /// <param name="error">One line saying what is wrong, when not.</param>
    /// <param name="readStandardInput">Reads standard input to its end (for <see cref="AgentEnvironment.NatsSeedSource"/>).</param>
    /// <returns>Whether the settings are usable.</returns>
    public static bool TryLoad(Func<string, string?> variables, Func<string, string> readFile, out AgentSettings? settings, out string error, Func<string>? readStandardInput = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        ArgumentNullException.ThrowIfNull(readFile);
        settings = null;
        string? Get(string name) => variables(name) is { Length: > 0 } value ? value.Trim() : null;

        var sandboxed = !string.Equals(Get(AgentEnvironment.Sandbox), "false", StringComparison.OrdinalIgnoreCase);
        AgentMetadata? file = null;
        if (Get(AgentEnvironment.MetadataFile) is { } path)
        {
            try
            {
                file = JsonSerializer.Deserialize(readFile(path), AgentMetadataJsonContext.Default.AgentMetadata)
                    ?? throw new JsonException("the file holds null");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
            {
                error = $"cannot read agent metadata file {path}: {OneLine(ex.Message)}";
                return false;
            }
        }

        var id = Get(AgentEnvironment.WorkloadId) ?? Blank(file?.VmId);
        if (id is null)
        {
            error = $"{AgentEnvironment.WorkloadId} is required (the workload id)";
            return false;
        }

        if (!IsSubjectToken(id))
        {
            error = $"{AgentEnvironment.WorkloadId} '{id}' is not a valid workload id (letters, digits, '-' and '_' only)";
            return false;
        }

        var host = Get(AgentEnvironment.NatsHost) ?? Blank(file?.NodeNatsHost);
        if (host is null)
        {
            error = $"{AgentEnvironment.NatsHost} is required (the node's internal NATS host)";
            return false;
        }

        if (host == "0.0.0.0")
        {
            host = "127.0.0.1";
        }
        else if (host is "::" or "[::]")
        {
            host = "::1";
        }

        if (host.Any(c => char.IsWhiteSpace(c) || c is '/' or '@' or '?' or '#'))
        {
            error = $"{AgentEnvironment.NatsHost} '{host}' is not a valid host";
            return false;
        }

        int port;
        if (Get(AgentEnvironment.NatsPort) is { } portText)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                error = $"{AgentEnvironment.NatsPort} '{portText}' is not a valid port (1-65535)";
                return false;
            }
        }
        else if (file?.NodeNatsPort is { } filePort)
        {
            port = filePort;
            if (port is < 1 or > 65535)
            {
                error = $"node_nats_port {port} in the agent metadata is not a valid port (1-65535)";
                return false;
            }
        }
        else
        {
            error = $"{AgentEnvironment.NatsPort} is required (the node's internal NATS port)";
            return false;
        }

        var seed = Get(AgentEnvironment.NatsSeed) ?? Blank(file?.NodeNatsNkey);
        if (seed is null && Get(AgentEnvironment.NatsSeedSource) is { } source)
        {
            if (!string.Equals(source, AgentEnvironment.SeedFromStdin, StringComparison.Ordinal))
            {
                error = $"{AgentEnvironment.NatsSeedSource} '{source}' is not supported (only stdin)";
                return false;
            }

            try
            {
                seed = Blank((readStandardInput ?? (() => string.Empty))().Split('\n', 2)[0]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error = $"cannot read the seed from standard input: {OneLine(ex.Message)}";
                return false;
            }

            if (seed is null)
            {
                error = $"{AgentEnvironment.NatsSeedSource}=stdin but standard input held no seed";
                return false;
            }
        }

        string? publicKey = null;
        if (seed is not null)
        {
            try
            {
                using var pair = KeyPair.FromSeed(seed);
                publicKey = pair.GetPublicKey();
            }
            catch (Exception ex) when (ex is NKeysException or ArgumentException or FormatException or IndexOutOfRangeException)
            {
                publicKey = null;
            }

            if (publicKey is null || !publicKey.StartsWith('U'))
            {
                error = $"{AgentEnvironment.NatsSeed} is not a valid NATS user seed (SU…)";
                return false;
            }
        }

        var socket = Get(AgentEnvironment.NatsSocket);
        if (socket is not null && !Path.IsPathRooted(socket))
        {
            error = $"{AgentEnvironment.NatsSocket} '{socket}' is not an absolute path";
            return false;
        }

        if (!TryReadMilliseconds(Get(AgentEnvironment.StopGraceMs), AgentEnvironment.StopGraceMs, AgentSettings.DefaultStopGrace, out var stopGrace, out error)
            || !TryReadMilliseconds(Get(AgentEnvironment.DisconnectGraceMs), AgentEnvironment.DisconnectGraceMs, AgentSettings.DefaultDisconnectGrace, out var disconnectGrace, out error))
        {
            return false;
        }

        settings = new AgentSettings
        {
            WorkloadId = id,
            NatsHost = host,
            NatsPort = port,
            NatsSocket = socket,
            NKeySeed = seed,
            NKeyPublic = publicKey,
            Message = Blank(file?.Message) ?? (file is null ? NoSandboxMessage : HostSuppliedMessage),
            Sandboxed = sandboxed,
            StopGrace = stopGrace,
            DisconnectGrace = disconnectGrace,
        };
        error = string.Empty;
        return true;
    }

    // The node writes one line and closes the pipe; more than a few hundred bytes is not a seed.
    private static string ReadStandardInput()
    {
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[1024];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = stdin.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += read;
        }

        var text = System.Text.Encoding.UTF8.GetString(buffer, 0, length);
        Array.Clear(buffer);
        return text;
    }

    private static bool TryReadMilliseconds(string? text, string name, TimeSpan fallback, out TimeSpan value, out string error)
    {
        error = string.Empty;
        value = fallback;
        if (text is null)
        {
            return true;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            error = $"{name} '{text}' is not a number of milliseconds";
            return false;
        }

        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>True for a non-empty NATS subject token made of letters, digits, '-' and '_' (xids qualify).</summary>
    internal static bool IsSubjectToken(string value) =>
        value.Length is > 0 and <= 128 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}

/// <summary>Source-generated (AOT-safe) JSON for <see cref="AgentMetadata"/>.</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(AgentMetadata))]
internal sealed partial class AgentMetadataJsonContext : JsonSerializerContext;
