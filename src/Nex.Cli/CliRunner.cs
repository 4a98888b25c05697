using System.CommandLine;
using System.Runtime.InteropServices;
using Nex.Client;
using Nex.Nats;
using Nex.Node;
using Nex.Node.Config;

namespace Nex.Cli;

/// <summary>Parses, runs, and turns every failure into one line and a non-zero exit code.</summary>
internal static class CliRunner
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        if (args.Length == 0)
        {
            // As git: plain 'nex' shows the help, and exits 1 because nothing was done.
            await root.Parse(["--help"]).InvokeAsync().ConfigureAwait(false);
            return 1;
        }

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // The most specific error first (an unknown token beats "required command missing"),
            // folded onto one line.
            var error = parse.Errors.FirstOrDefault(e => e.Message.Contains('\'', StringComparison.Ordinal)) ?? parse.Errors[0];
            var text = System.Text.RegularExpressions.Regex.Replace(error.Message, @"\s*\n\s*", " ").Trim();
            Output.Error($"{text} (see '{string.Join(' ', ["nex", .. CommandPath(parse)])} --help')");
            return 2;
        }

        // SIGINT, SIGTERM and SIGQUIT stop long-running commands gracefully (as in 0.2); a second
        // signal terminates at once. We do this ourselves: System.CommandLine would kill the
        // process after a fixed 2 s, cutting a node's shutdown short.
        // Never disposed: a signal that arrives as we exit is handled on a thread-pool thread, possibly after
        // the registrations are gone, and must not find it disposed.
        var stop = new CancellationTokenSource();
        var registrations = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT }
            .Select(signal => PosixSignalRegistration.Create(signal, ctx =>
            {
                ctx.Cancel = !stop.IsCancellationRequested;
                stop.Cancel();
            }))
            .ToList();

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CliException or NexClientException or NatsConnectException or NodeStartException or NodeConfigException or Nex.Security.NexSecurityException)
        {
            Output.Error(ex.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception ex)
        {
            // Never a stack trace for users; NEX_DEBUG=1 shows it.
            Output.Error($"unexpected error: {ex.Message}");
            if (Environment.GetEnvironmentVariable("NEX_DEBUG") is "1" or "true")
            {
                Console.Error.WriteLine(ex);
            }

            return 1;
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
    }

    private static List<string> CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            if (result.Command is not RootCommand)
            {
                names.Insert(0, result.Command.Name);
            }
        }

        return names;
    }
}
