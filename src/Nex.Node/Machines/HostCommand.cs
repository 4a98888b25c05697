using System.Diagnostics;

namespace Nex.Node.Machines;

/// <summary>Runs a host program to completion (the image builders' apt, dpkg and decompressors).</summary>
internal static class HostCommand
{
    /// <summary>Runs <paramref name="program"/>; returns its trimmed standard output.</summary>
    /// <param name="program">The program.</param>
    /// <param name="args">Its arguments.</param>
    /// <param name="cancellationToken">Kills it.</param>
    /// <param name="workingDirectory">Where it runs (default: ours).</param>
    /// <param name="environment">Variables added to ours.</param>
    /// <returns>Its trimmed standard output.</returns>
    /// <exception cref="InvalidOperationException">It failed; the message holds its last error line.</exception>
    public static async Task<string> RunAsync(string program, IReadOnlyList<string> args, CancellationToken cancellationToken, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        info.Environment["LC_ALL"] = "C";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            var error = (await stderr.ConfigureAwait(false)).Trim().Split('\n').LastOrDefault(l => l.Length > 0) ?? "";
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args.Take(3))}… failed ({process.ExitCode}): {error}");
        }

        return (await stdout.ConfigureAwait(false)).Trim();
    }
}
