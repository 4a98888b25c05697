using System.CommandLine;
using Nex.Client;
using Nex.Nats;

namespace Nex.Cli;

/// <summary>The global flags of spec §9.1, each with its environment variable.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Server = Recursive(new Option<string?>("--server", "-s") { Description = "NATS server URL(s) [env NATS_URL; default nats://127.0.0.1:4222]" }, "NATS_URL");
    public static readonly Option<string?> User = Recursive(new Option<string?>("--user") { Description = "NATS user (a user without password is a token) [env NATS_USER]" }, "NATS_USER");
    public static readonly Option<string?> Password = Recursive(new Option<string?>("--password") { Description = "NATS password [env NATS_PASSWORD]" }, "NATS_PASSWORD");
    public static readonly Option<string?> Creds = Recursive(new Option<string?>("--creds") { Description = "NATS credentials file [env NATS_CREDS]" }, "NATS_CREDS");
    public static readonly Option<string?> Nkey = Recursive(new Option<string?>("--nkey") { Description = "NATS nkey seed file [env NATS_NKEY]" }, "NATS_NKEY");
    public static readonly Option<string?> TlsCert = Recursive(new Option<string?>("--tlscert") { Description = "TLS client certificate [env NATS_CERT]" }, "NATS_CERT");
    public static readonly Option<string?> TlsKey = Recursive(new Option<string?>("--tlskey") { Description = "TLS client key [env NATS_KEY]" }, "NATS_KEY");
    public static readonly Option<string?> TlsCa = Recursive(new Option<string?>("--tlsca") { Description = "TLS CA bundle [env NATS_CA]" }, "NATS_CA");
    public static readonly Option<bool> TlsFirst = new("--tlsfirst") { Description = "TLS before the NATS handshake", Recursive = true };
    public static readonly Option<string?> Context = Recursive(new Option<string?>("--context") { Description = "NATS CLI context name [env NATS_CONTEXT]" }, "NATS_CONTEXT");
    public static readonly Option<string?> Timeout = Recursive(new Option<string?>("--timeout") { Description = "request timeout, e.g. 2s, 750ms [env NATS_TIMEOUT; default 2s]" }, "NATS_TIMEOUT");
    public static readonly Option<string?> Namespace = Recursive(new Option<string?>("--namespace", "-n") { Description = "namespace [env NEX_NAMESPACE; default default]" }, "NEX_NAMESPACE");
    public static readonly Option<string?> ConnName = new("--conn-name") { Description = "NATS connection name", Recursive = true };
    public static readonly Option<bool> Json = new("--json") { Description = "print JSON instead of tables", Recursive = true };

    public static readonly Option[] All = [Server, User, Password, Creds, Nkey, TlsCert, TlsKey, TlsCa, TlsFirst, Context, Timeout, Namespace, ConnName, Json];

    private static Option<string?> Recursive(Option<string?> option, string env)
    {
        option.Recursive = true;
        option.DefaultValueFactory = _ => Environment.GetEnvironmentVariable(env) is { Length: > 0 } value ? value : null;
        return option;
    }

    public static TimeSpan GetTimeout(ParseResult parse, TimeSpan fallback)
    {
        var text = parse.GetValue(Timeout);
        return string.IsNullOrEmpty(text) ? fallback : GoDuration.Parse(text, "--timeout");
    }

    /// <summary>The namespace, refused here in one line when no node would accept it (<c>*</c> is kept:
    /// <c>nex events</c> and <c>nex logs</c> take it to mean every namespace).</summary>
    public static string GetNamespace(ParseResult parse)
    {
        var ns = parse.GetValue(Namespace) is { Length: > 0 } given ? given : "default";
        return ns == "*" || Nex.Protocol.SubjectToken.NamespaceProblem(ns) is not { } problem
            ? ns
            : throw new CliException($"invalid --namespace: {problem}");
    }

    public static NexConnectionOptions GetConnection(ParseResult parse, string connectionName = "nex") => new NexConnectionOptions
    {
        Server = parse.GetValue(Server),
        User = parse.GetValue(User),
        Password = parse.GetValue(Password),
        CredsFile = parse.GetValue(Creds),
        NkeyFile = parse.GetValue(Nkey),
        TlsCert = parse.GetValue(TlsCert),
        TlsKey = parse.GetValue(TlsKey),
        TlsCa = parse.GetValue(TlsCa),
        TlsFirst = parse.GetValue(TlsFirst),
        Context = parse.GetValue(Context),
        ConnectionName = parse.GetValue(ConnName) ?? connectionName,
        Timeout = GetTimeout(parse, TimeSpan.FromSeconds(2)),
    }.ResolveContext();
}
