using System.Diagnostics;

namespace Nex.Testing;

/// <summary>The example workloads, built by <c>examples/build.sh</c> (run here on first use if needed).</summary>
public static class Examples
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Nex.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (Nex.slnx) not found above " + AppContext.BaseDirectory);
    });

    private static readonly Lazy<string> Built = new(() =>
    {
        var echo = Path.Combine(Root.Value, "examples", "echoservice", "build", "echoservice");
        if (!File.Exists(echo))
        {
            using var build = Process.Start(new ProcessStartInfo(Path.Combine(Root.Value, "examples", "build.sh")) { UseShellExecute = false })!;
            build.WaitForExit();
            if (build.ExitCode != 0)
            {
                throw new InvalidOperationException("examples/build.sh failed (needs gcc and libnats-dev)");
            }
        }

        return Root.Value;
    });

    public static string RepositoryRoot => Root.Value;

    /// <summary>The native echo service binary.</summary>
    public static string EchoService => Path.Combine(Built.Value, "examples", "echoservice", "build", "echoservice");

    /// <summary>The WASM echo function (a WASI command that writes its input back).</summary>
    public static string WasmEcho => Path.Combine(Built.Value, "examples", "wasm", "echo", "build", "echo.wasm");
}
