using Nex.Nats;

namespace Nex.Client;

/// <summary>
/// NATS CLI contexts for <see cref="NexConnectionOptions"/>. Only the CLI and client read contexts, so this stays in
/// the client while the options themselves live in <c>Nex.Nats</c>, shared with the node.
/// </summary>
public static class NexConnectionOptionsContext
{
    /// <summary>
    /// Fills unset fields from a NATS CLI context: the one named by <see cref="NexConnectionOptions.Context"/>, or the
    /// context selected with <c>nats context select</c> when no server was given. Explicit values win.
    /// </summary>
    /// <param name="options">The options as given by flags and environment.</param>
    /// <param name="contextDirectory">The context directory (default: the NATS CLI's).</param>
    /// <returns>The options with the context's values filled in.</returns>
    /// <exception cref="NexClientException">The named context does not exist or cannot be read.</exception>
    public static NexConnectionOptions ResolveContext(this NexConnectionOptions options, string? contextDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = options.Context;
        if (string.IsNullOrEmpty(name) && !options.HasExplicitServer)
        {
            name = NatsContext.SelectedName(contextDirectory);
        }

        if (string.IsNullOrEmpty(name))
        {
            return options;
        }

        var ctx = NatsContext.Load(name, contextDirectory);
        return options with
        {
            Server = options.Server ?? NullIfEmpty(ctx.Url),
            User = options.User ?? NullIfEmpty(ctx.User),
            Password = options.Password ?? NullIfEmpty(ctx.Password),
            Token = options.Token ?? NullIfEmpty(ctx.Token),
            CredsFile = options.CredsFile ?? NullIfEmpty(ctx.Creds),
            NkeyFile = options.NkeyFile ?? NullIfEmpty(ctx.Nkey),
            TlsCert = options.TlsCert ?? NullIfEmpty(ctx.Cert),
            TlsKey = options.TlsKey ?? NullIfEmpty(ctx.Key),
            TlsCa = options.TlsCa ?? NullIfEmpty(ctx.Ca),
            TlsFirst = options.TlsFirst || ctx.TlsFirst,
        };
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
