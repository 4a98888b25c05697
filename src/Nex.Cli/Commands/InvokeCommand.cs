using System.CommandLine;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using Nex.Protocol;

namespace Nex.Cli.Commands;

/// <summary>
/// <c>nex invoke &lt;subject&gt; [payload]</c>: calls a function through one of its trigger subjects (a plain NATS
/// request) and prints the reply body as it came. Not in 0.2, where one used <c>nats req</c>.
/// </summary>
internal static class InvokeCommand
{
    /// <summary>A function may run for its own time limit (default 5 s), so wait longer than the 2 s of other requests.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var subject = new Argument<string>("subject") { Description = "a trigger subject of the function, e.g. hello" };
        var payload = new Argument<string?>("payload") { Description = "request payload (UTF-8 text); '-' reads it from stdin; empty when absent", Arity = ArgumentArity.ZeroOrOne };
        var file = new Option<string?>("--file", "-f") { Description = "read the payload from this file (bytes as they are)" };
        var headers = new Option<bool>("--headers") { Description = "also print the reply's headers (on stderr)" };

        var invoke = new Command("invoke", $"Call a function: send a request on its trigger subject and print the reply (waits --timeout, default {DefaultTimeout.TotalSeconds:0}s)");
        invoke.Arguments.Add(subject);
        invoke.Arguments.Add(payload);
        invoke.Options.Add(file);
        invoke.Options.Add(headers);
        invoke.SetAction(async (parse, cancellationToken) =>
        {
            var target = parse.GetValue(subject)!;
            RequireValidSubject(target);
            var body = await ReadPayloadAsync(parse.GetValue(payload), parse.GetValue(file), cancellationToken).ConfigureAwait(false);
            var timeout = GlobalOptions.GetTimeout(parse, DefaultTimeout);
            if (timeout <= TimeSpan.Zero)
            {
                throw new CliException("--timeout must be positive");
            }

            await using var session = await ClientSession.OpenAsync(parse, cancellationToken, DefaultTimeout).ConfigureAwait(false);
            var reply = await RequestAsync(session.Connection, target, body, timeout, cancellationToken).ConfigureAwait(false);

            if (parse.GetValue(headers))
            {
                PrintHeaders(reply.Headers);
            }

            // The node answers a failed call at once with the NATS service error headers.
            if (reply.Headers is { } h && h.TryGetValue(FunctionErrors.Header, out var cause))
            {
                throw new CliException($"function failed: {cause}");
            }

            if (session.Output.Json)
            {
                await WriteJsonAsync(target, reply.Data ?? [], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await WriteRawAsync(reply.Data ?? [], cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });
        return invoke;
    }

    /// <summary>The payload: the argument as UTF-8, stdin for <c>-</c>, or the file's bytes; empty when none is given.</summary>
    internal static async Task<byte[]> ReadPayloadAsync(string? argument, string? file, CancellationToken cancellationToken)
    {
        if (file is not null)
        {
            if (argument is not null)
            {
                throw new CliException("give the payload either as an argument or with --file, not both");
            }

            try
            {
                return await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read --file '{file}': {ex.Message}");
            }
        }

        if (argument == "-")
        {
            using var buffer = new MemoryStream();
            await using var stdin = Console.OpenStandardInput();
            await stdin.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }

        return argument is null ? [] : Encoding.UTF8.GetBytes(argument);
    }

    /// <summary>A subject one can publish to: non-empty tokens, no wildcards, no whitespace.</summary>
    internal static void RequireValidSubject(string subject)
    {
        var tokens = subject.Split('.');
        if (subject.Length == 0 || subject.Any(char.IsWhiteSpace) || tokens.Any(t => t.Length == 0))
        {
            throw new CliException($"invalid subject '{subject}' (dot-separated tokens without spaces, e.g. hello or fn.echo)");
        }

        if (tokens.Any(t => t is "*" or ">"))
        {
            throw new CliException($"cannot invoke the wildcard subject '{subject}'; name one concrete subject");
        }
    }

    private static async Task<NatsMsg<byte[]>> RequestAsync(NatsConnection connection, string subject, byte[] body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var noReply = $"no reply on '{subject}' within {timeout.TotalSeconds:0.###}s (the function failed or timed out; see nex logs / nex events)";
        var noResponders = $"no function is listening on '{subject}'";
        NatsMsg<byte[]> reply;
        try
        {
            reply = await connection.RequestAsync<byte[], byte[]>(
                subject,
                body,
                replyOpts: new NatsSubOpts { Timeout = timeout },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (NatsNoRespondersException)
        {
            throw new CliException(noResponders);
        }
        catch (NatsNoReplyException)
        {
            throw new CliException(noReply);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(noReply);
        }
        catch (NatsException ex)
        {
            throw new CliException($"cannot send the request on '{subject}': {ex.Message}");
        }

        return reply.HasNoResponders ? throw new CliException(noResponders) : reply;
    }

    private static void PrintHeaders(NatsHeaders? headers)
    {
        if (headers is null)
        {
            return;
        }

        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                Console.Error.WriteLine($"{name}: {value}");
            }
        }
    }

    /// <summary>The reply exactly as received; a newline after it only on a terminal, so pipes get the bytes.</summary>
    private static async Task WriteRawAsync(byte[] data, CancellationToken cancellationToken)
    {
        Console.Out.Flush();
        await using var stdout = Console.OpenStandardOutput();
        await stdout.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        if (!Console.IsOutputRedirected && (data.Length == 0 || data[^1] != (byte)'\n'))
        {
            await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>{"subject":…,"reply":…}</c>: the reply as text when it is valid UTF-8, else base64 with <c>"reply_encoding":"base64"</c>.</summary>
    private static async Task WriteJsonAsync(string subject, byte[] data, CancellationToken cancellationToken)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("subject", subject);
            if (System.Text.Unicode.Utf8.IsValid(data))
            {
                writer.WriteString("reply", Encoding.UTF8.GetString(data));
            }
            else
            {
                writer.WriteBase64String("reply", data);
                writer.WriteString("reply_encoding", "base64");
            }

            writer.WriteEndObject();
        }

        await Console.Out.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan).AsMemory(), cancellationToken).ConfigureAwait(false);
    }
}
