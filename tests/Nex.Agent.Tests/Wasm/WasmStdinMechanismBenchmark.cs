using System.Diagnostics;
using System.Text;
using Nex.Testing;
using Wasmtime;
using Xunit;

namespace Nex.Agent.Tests.Wasm;

/// <summary>
/// Why the provider defines its own preview 1 functions: per-call cost of the built C echo example through
/// the provider (payload from memory) against Wasmtime's own WASI with stdin from a /dev/shm file.
/// </summary>
public sealed class WasmStdinMechanismBenchmark
{
    private const int Runs = 500;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CustomPreview1_VersusDefineWasiWithAStdinFile()
    {
        var path = Path.Combine(Examples.RepositoryRoot, "examples", "wasm", "echo", "build", "echo.wasm");
        if (!File.Exists(path))
        {
            Assert.Skip($"{path} is not built (run examples/build.sh)");
        }

        var bytes = await File.ReadAllBytesAsync(path, Token);
        var payload = "Hello world"u8.ToArray();

        await using var function = await WasmFunction.DeployAsync(bytes);
        for (var i = 0; i < 100; i++)
        {
            await function.Provider.ExecuteAsync("test.trigger", payload, Token);
        }

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Runs; i++)
        {
            await function.Provider.ExecuteAsync("test.trigger", payload, Token);
        }

        var custom = clock.Elapsed / Runs;

        // Same engine settings as the provider (pooling allocator), so only the WASI mechanism differs.
        using var pooling = new PoolingAllocationConfig().WithMaxCoreInstances(2).WithMaxMemories(2).WithMaxTables(2).WithMaxUnusedWarmSlots(2).WithMaxMemorySize(64 * 1024 * 1024);
        using var engine = new Engine(new Config().WithEpochInterruption(true).WithPoolingAllocationStrategy(pooling));
        using var module = Module.FromBytes(engine, "echo", bytes);
        using var linker = new Linker(engine);
        linker.DefineWasi();
        var output = new MemoryStream();
        string? last = null;
        void RunOnce()
        {
            var stdin = $"/dev/shm/nex-wasm-bench-{Environment.ProcessId}";
            File.WriteAllBytes(stdin, payload);
            output.SetLength(0);
            using var store = new Store(engine);
            store.SetEpochDeadline(1_000_000);
            store.SetWasiConfiguration(new WasiConfiguration()
                .WithArgs("nexfunction", "test.trigger")
                .WithStandardInput(stdin)
                .WithStandardOutputCallback(data => output.Write(data)));
            var instance = linker.Instantiate(store, module);
            instance.GetAction("_start")!();
            File.Delete(stdin);
            last = Encoding.UTF8.GetString(output.ToArray());
        }

        for (var i = 0; i < 100; i++)
        {
            RunOnce();
        }

        clock.Restart();
        for (var i = 0; i < Runs; i++)
        {
            RunOnce();
        }

        var wasi = clock.Elapsed / Runs;
        Assert.Equal("Hello worldtest.trigger", last);
        TestContext.Current.TestOutputHelper?.WriteLine($"C echo per call: provider (own preview1, stdin from memory, incl. thread hand-off) {custom.TotalMicroseconds:0} µs; DefineWasi + /dev/shm stdin file + stdout callback (inline, no hand-off) {wasi.TotalMicroseconds:0} µs");
    }
}
