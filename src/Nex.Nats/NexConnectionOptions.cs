namespace Nex.Nats;

/// <summary>
/// How to reach a NATS system: the global flags of <c>nex</c> (spec §9.1), each also settable
/// through its environment variable, or a NATS CLI context.
/// </summary>
public sealed record NexConnectionOptions
{
    /// <summary>The default server, as in the NATS tools.</summary>
    public const string DefaultServer = "nats://127.0.0.1:4222";

    /// <summary>Server URL(s), comma separated; null means "not given" (context or default).</summary>
    public string? Server { get; init; }

    /// <summary>User name; without a password it is used as a token, as in 0.2.</summary>
    public string? User { get; init; }

    /// <summary>Password.</summary>
    public string? Password { get; init; }

    /// <summary>Token.</summary>
    public string? Token { get; init; }

    /// <summary>Path of a <c>.creds</c> file.</summary>
    public string? CredsFile { get; init; }

    /// <summary>Path of a file holding an nkey seed.</summary>
    public string? NkeyFile { get; init; }

    /// <summary>Client certificate file.</summary>
    public string? TlsCert { get; init; }

    /// <summary>Client key file.</summary>
    public string? TlsKey { get; init; }

    /// <summary>CA bundle to verify the server.</summary>
    public string? TlsCa { get; init; }

    /// <summary>Start TLS before the NATS handshake.</summary>
    public bool TlsFirst { get; init; }

    /// <summary>A NATS CLI context name (<c>~/.config/nats/context/NAME.json</c>); the client's <c>ResolveContext</c> reads it.</summary>
    public string? Context { get; init; }

    /// <summary>Connection name shown by the server.</summary>
    public string ConnectionName { get; init; } = "nex";

    /// <summary>Request and scatter/gather timeout.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>True when a server was named by flag, environment or context.</summary>
    public bool HasExplicitServer => !string.IsNullOrWhiteSpace(Server);

    /// <summary>The URL in effect.</summary>
    public string EffectiveServer => HasExplicitServer ? Server! : DefaultServer;
}
