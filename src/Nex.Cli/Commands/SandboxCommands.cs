using System.Text.Json.Nodes;
using System.CommandLine;
using System.Diagnostics;
using Nex.Node;
using Nex.Node.Config;
using Nex.Node.Machines;
using Nex.Node.Machines.Container;
using Spectre.Console;

namespace Nex.Cli.Commands;

/// <summary><c>nex rootfs build</c> and <c>nex node preflight</c>: getting a host ready for sandboxes.</summary>
internal static class SandboxCommands
{
    public static Command CreateRootfs()
    {
        var output = new Option<string?>("--output", "-o") { Description = "directory that receives rootfs/ and vm/ (default $NEX_HOME/sandbox; as root /var/lib/nex/sandbox unless NEX_HOME is set and the sandbox user can reach it)" };
        var agent = new Option<string?>("--agent") { Description = "directory of the published NativeAOT nex-agent (default: beside nex)" };
        var packages = new Option<string[]>("--package") { Description = "extra Debian package for the sandbox (repeatable; dependencies included)", AllowMultipleArgumentsPerToken = false };
        var noVm = new Option<bool>("--no-vm") { Description = "skip the microVM kernel, initramfs and runtime image (vm/)" };
        var build = new Command("build", "Build the sandbox images from Debian packages and the published agent: the container root filesystem (rootfs/) and the microVM kernel, initramfs and runtime image (vm/)");
        build.Options.Add(noVm);
        build.Options.Add(output);
        build.Options.Add(agent);
        build.Options.Add(packages);
        build.SetAction(async (parse, cancellationToken) =>
        {
            var options = new RootfsBuildOptions(
                parse.GetValue(output) ?? SandboxPreflight.DefaultImageDirectory(new NodeConfig(), NexHome.Directory, NexHome.IsExplicit),
                parse.GetValue(agent) ?? AppContext.BaseDirectory,
                parse.GetValue(packages) ?? [],
                MicroVm: !parse.GetValue(noVm));
            var path = await BuildRootfsAsync(options, cancellationToken).ConfigureAwait(false);
            Console.Out.WriteLine(path);
            return 0;
        });

        var rootfs = new Command("rootfs", "Sandbox images");
        rootfs.Subcommands.Add(build);
        return rootfs;
    }

    public static Command CreatePreflight()
    {
        var config = new Option<string?>("--config") { Description = "node configuration file (default ./config.json)" };
        var driver = new Option<string?>("--driver") { Description = $"check only this driver: {SandboxDrivers.NameList} or {SandboxDrivers.AllChoice} (default: {SandboxDrivers.AllChoice})" };
        driver.AcceptOnlyFromAmong([.. SandboxDrivers.PreflightChoices]);
        var install = new Option<bool>("--install") { Description = "install missing Debian packages (apt-get) and build what must be built" };
        var preflight = new Command("preflight", "Check what the sandbox drivers need on this host; --install fixes it");
        preflight.Options.Add(config);
        preflight.Options.Add(driver);
        preflight.Options.Add(install);
        preflight.SetAction(async (parse, cancellationToken) =>
        {
            var cfg = NodeConfigLoader.Load(parse.GetValue(config), []);
            var images = SandboxPreflight.DefaultImageDirectory(cfg, NexHome.Directory, NexHome.IsExplicit);
            var rootfs = SandboxPreflight.ContainerRootfs(cfg, images);
            var which = parse.GetValue(driver) ?? SandboxDrivers.AllChoice;
            var vm = SandboxPreflight.MicroVmImages(cfg, images);
            var user = (cfg.SandboxUid, cfg.SandboxGid);
            var checks = SandboxPreflight.For(which, rootfs, vm, user);
            string? buildError = null;
            if (parse.GetValue(install) && checks.Any(c => !c.Ready))
            {
                var apt = checks.Where(c => !c.Ready && c.AptPackage is not null).Select(c => c.AptPackage!).Distinct().ToArray();
                if (apt.Length > 0)
                {
                    await AptInstallAsync(apt, cancellationToken).ConfigureAwait(false);
                }

                if (SandboxPreflight.For(which, rootfs, vm, user).Any(c => c is { Ready: false, Fix: var fix } && fix.StartsWith("nex rootfs build", StringComparison.Ordinal)))
                {
                    try
                    {
                        await BuildRootfsAsync(new RootfsBuildOptions(Path.GetDirectoryName(rootfs)!, AppContext.BaseDirectory, [], MicroVm: SandboxDrivers.Selected(which).Any(d => d.NeedsVmImages)), cancellationToken).ConfigureAwait(false);
                    }
                    catch (CliException ex)
                    {
                        buildError = ex.Message; // the table still shows what is ready
                    }
                }

                checks = SandboxPreflight.For(which, rootfs, vm, user);
            }

            var missing = checks.Count(c => !c.Ready);
            if (parse.GetValue(GlobalOptions.Json))
            {
                var json = new JsonObject
                {
                    ["sandbox"] = cfg.EffectiveSandbox,
                    ["ready"] = missing == 0,
                    ["missing"] = missing,
                    ["checks"] = new JsonArray([.. checks.Select(c => (JsonNode?)new JsonObject
                    {
                        ["driver"] = c.Driver,
                        ["check"] = c.Name,
                        ["ready"] = c.Ready,
                        ["found"] = c.Detail,
                        ["fix"] = c.Ready ? null : c.Fix,
                    })]),
                };
                if (buildError is not null)
                {
                    json["error"] = buildError;
                }

                Output.WriteJson(json);
                return missing == 0 ? 0 : 1;
            }

            Output.Table(
                ["Driver", "Check", "Status", "Found", "Fix"],
                checks.Select(c => (IReadOnlyList<string>)[c.Driver, c.Name, c.Ready ? "ready" : "MISSING", c.Detail, c.Ready ? "" : c.Fix]));
            if (buildError is not null)
            {
                Output.Error(buildError);
            }

            Console.Out.WriteLine(missing == 0
                ? $"ready: sandbox '{cfg.EffectiveSandbox}' is configured"
                : $"{missing} missing; run 'nex node preflight --install' to fix");
            return missing == 0 ? 0 : 1;
        });
        return preflight;
    }

    private static async Task<string> BuildRootfsAsync(RootfsBuildOptions options, CancellationToken cancellationToken)
    {
        try
        {
            if (Output.IsTerminal)
            {
                return await AnsiConsole.Status().StartAsync("building the root filesystem", ctx =>
                    RootfsBuilder.BuildAsync(options, step => { ctx.Status(Markup.Escape(step)); AnsiConsole.MarkupLine($"[grey]· {Markup.Escape(step)}[/]"); }, cancellationToken)).ConfigureAwait(false);
            }

            return await RootfsBuilder.BuildAsync(options, step => Console.Error.WriteLine($"rootfs: {step}"), cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException($"rootfs build failed: {ex.Message}");
        }
    }

    private static async Task AptInstallAsync(string[] packages, CancellationToken cancellationToken)
    {
        Console.Error.WriteLine($"installing {string.Join(' ', packages)} (apt-get)…");
        foreach (var args in new[] { new[] { "update", "-qq" }, ["install", "-y", "-qq", "--no-install-recommends", .. packages] })
        {
            var info = new ProcessStartInfo("apt-get") { UseShellExecute = false, RedirectStandardOutput = true };
            info.Environment["DEBIAN_FRONTEND"] = "noninteractive";
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            using var process = Process.Start(info) ?? throw new CliException("cannot run apt-get");
            _ = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new CliException($"apt-get {args[0]} failed (exit {process.ExitCode}); run it as root");
            }
        }
    }
}
