using System.Text;

namespace Nex.Agent.Tests.Wasm;

/// <summary>Test functions in the WebAssembly text format (compiled in-process by Wasmtime, no toolchain needed).</summary>
internal static class WasmModules
{
    // Memory layout shared by the modules: 0..8 one iovec, 8 a result count, 16/20 sizes, 32.. pointer
    // table, 1024.. string block, 4096.. data buffer.
    private const string Imports = """
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
        """;

    private const string Helpers = """
          (memory (export "memory") 1)
          (func $write (param $fd i32) (param $ptr i32) (param $len i32)
            (i32.store (i32.const 0) (local.get $ptr))
            (i32.store (i32.const 4) (local.get $len))
            (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
          ;; Reads all of stdin to 4096.. and returns its length.
          (func $read_all (result i32) (local $total i32) (local $n i32)
            (block $done (loop $more
              (i32.store (i32.const 0) (i32.add (i32.const 4096) (local.get $total)))
              (i32.store (i32.const 4) (i32.const 1024))
              (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
              (local.set $n (i32.load (i32.const 8)))
              (br_if $done (i32.eqz (local.get $n)))
              (local.set $total (i32.add (local.get $total) (local.get $n)))
              (br $more)))
            (local.get $total))
          ;; Reads all of stdin as a decimal number.
          (func $read_number (result i32) (local $n i32) (local $i i32) (local $value i32)
            (local.set $n (call $read_all))
            (block $done (loop $digit
              (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
              (local.set $value (i32.add (i32.mul (local.get $value) (i32.const 10))
                (i32.sub (i32.load8_u (i32.add (i32.const 4096) (local.get $i))) (i32.const 48))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $digit)))
            (local.get $value))
        """;

    /// <summary>The 0.2 reference function: stdin, then argv[1] (two writes).</summary>
    public static readonly string Echo = Module("""
          (func (export "_start") (local $p i32)
            (call $write (i32.const 1) (i32.const 4096) (call $read_all))
            (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
            (drop (call $args_get (i32.const 32) (i32.const 1024)))
            (local.set $p (i32.load (i32.const 36)))
            (call $write (i32.const 1) (local.get $p) (i32.sub (i32.add (i32.const 1023) (i32.load (i32.const 20))) (local.get $p))))
        """);

    /// <summary>Three stdout writes and one stderr write.</summary>
    public static readonly string ManyWrites = Module("""
          (data (i32.const 2048) "onetwothreeoops")
          (func (export "_start")
            (call $write (i32.const 1) (i32.const 2048) (i32.const 3))
            (call $write (i32.const 2) (i32.const 2059) (i32.const 4))
            (call $write (i32.const 1) (i32.const 2051) (i32.const 3))
            (call $write (i32.const 1) (i32.const 2054) (i32.const 5)))
        """);

    /// <summary>Writes the environment block (<c>K=v\0</c> entries) to stdout.</summary>
    public static readonly string Environment = Module("""
          (func (export "_start")
            (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
            (drop (call $environ_get (i32.const 32) (i32.const 1024)))
            (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.const 20))))
        """);

    /// <summary>Writes stdin, then exits with the status given by the first payload byte minus '0'.</summary>
    public static readonly string ExitWithStatus = Module("""
          (func (export "_start") (local $n i32)
            (local.set $n (call $read_all))
            (call $write (i32.const 1) (i32.const 4096) (local.get $n))
            (call $proc_exit (i32.sub (i32.load8_u (i32.const 4096)) (i32.const 48)))
            (unreachable))
        """);

    /// <summary>Loops forever when the payload is non-empty; otherwise writes <c>ok</c>.</summary>
    public static readonly string LoopOnInput = Module("""
          (data (i32.const 2048) "ok")
          (func (export "_start")
            (if (call $read_all) (then (loop $forever (br $forever))))
            (call $write (i32.const 1) (i32.const 2048) (i32.const 2)))
        """);

    /// <summary>Counts to 40 million (milliseconds of work, no host call), then writes <c>ok</c>.</summary>
    public static readonly string Spin = Module("""
          (data (i32.const 2048) "ok")
          (func (export "_start") (local $i i32)
            (loop $more
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $more (i32.lt_u (local.get $i) (i32.const 40000000))))
            (call $write (i32.const 1) (i32.const 2048) (i32.const 2)))
        """);

    /// <summary>Recurses without end when the payload is non-empty; otherwise writes <c>ok</c>.</summary>
    public static readonly string RecurseOnInput = Module("""
          (data (i32.const 2048) "ok")
          (func $deeper (param $n i32) (result i32)
            (i32.add (call $deeper (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
          (func (export "_start")
            (if (call $read_all) (then (drop (call $deeper (i32.const 0)))))
            (call $write (i32.const 1) (i32.const 2048) (i32.const 2)))
        """);

    /// <summary>Grows memory by the number of 64 KiB pages in the payload (decimal digits) and reports the result.</summary>
    public static readonly string Grow = Module("""
          (data (i32.const 2048) "granteddenied")
          (func (export "_start") (local $pages i32)
            (local.set $pages (call $read_number))
            (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
              (then (call $write (i32.const 1) (i32.const 2055) (i32.const 6)))
              (else (call $write (i32.const 1) (i32.const 2048) (i32.const 7)))))
        """);

    /// <summary>
    /// Grows memory one page at a time, as an allocator that grows as it goes, until the payload's number of
    /// pages (decimal digits) is reached; when a growth is refused it aborts (traps), as Rust's allocator does.
    /// </summary>
    public static readonly string GrowOrAbort = Module("""
          (data (i32.const 2048) "grown")
          (func (export "_start") (local $pages i32)
            (local.set $pages (call $read_number))
            (block $grown (loop $more
              (br_if $grown (i32.eqz (local.get $pages)))
              (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (unreachable)))
              (local.set $pages (i32.sub (local.get $pages) (i32.const 1)))
              (br $more)))
            (call $write (i32.const 1) (i32.const 2048) (i32.const 5)))
        """);

    /// <summary>Asks for 10 MiB at once and, refused, says so on stderr and exits 1 (what a C or Go program does).</summary>
    public static readonly string BigAllocationOrExit = Module("""
          (data (i32.const 2048) "fatal error: out of memory\n")
          (func (export "_start")
            (if (i32.eq (memory.grow (i32.const 160)) (i32.const -1))
              (then
                (call $write (i32.const 2) (i32.const 2048) (i32.const 27))
                (call $proc_exit (i32.const 1))))
            (call $write (i32.const 1) (i32.const 2048) (i32.const 5)))
        """);

    /// <summary>Declares 32 pages (2 MiB) of initial memory.</summary>
    public static readonly string BigInitialMemory = """
        (module
          (memory (export "memory") 32)
          (func (export "_start")))
        """;

    /// <summary>Traps.</summary>
    public static readonly string Trap = Module("""(func (export "_start") (unreachable))""");

    /// <summary>Writes nothing.</summary>
    public static readonly string Silent = Module("""(func (export "_start"))""");

    /// <summary>
    /// Calls <c>nex.host_call(service, method, headers, stdin)</c> and writes the result, or <c>ERR </c>
    /// followed by the status and message on failure.
    /// </summary>
    public static string HostCall(string service, string method, string headersJson) => $$"""
        (module
          {{Imports}}
          (import "nex" "host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
          (import "nex" "host_result" (func $host_result (param i32 i32) (result i32)))
          {{Helpers}}
          (data (i32.const 2048) "{{Escape(service)}}")
          (data (i32.const 2304) "{{Escape(method)}}")
          (data (i32.const 2560) "{{Escape(headersJson)}}")
          (data (i32.const 3072) "ERR ")
          (func (export "_start") (local $n i32) (local $length i32)
            (local.set $length (call $read_all))
            (local.set $n (call $host_call
              (i32.const 2048) (i32.const {{Utf8(service)}})
              (i32.const 2304) (i32.const {{Utf8(method)}})
              (i32.const 2560) (i32.const {{Utf8(headersJson)}})
              (i32.const 4096) (local.get $length)))
            (if (i32.lt_s (local.get $n) (i32.const 0))
              (then
                (call $write (i32.const 1) (i32.const 3072) (i32.const 4))
                (local.set $n (call $host_result (i32.const 0) (i32.const 0)))))
            (drop (call $host_result (i32.const 8192) (local.get $n)))
            (call $write (i32.const 1) (i32.const 8192) (local.get $n)))
        )
        """;

    private static string Module(string body) => $"(module\n{Imports}\n{Helpers}\n{body}\n)";

    private static int Utf8(string text) => Encoding.UTF8.GetByteCount(text);

    private static string Escape(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
