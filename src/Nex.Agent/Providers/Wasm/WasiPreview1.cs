using System.Buffers.Binary;
using System.Security.Cryptography;
using Wasmtime;

namespace Nex.Agent.Providers.Wasm;

/// <summary>
/// The subset of WASI preview 1 (<c>wasi_snapshot_preview1</c>) a Nex function needs, defined in the
/// <see cref="Linker"/> directly instead of Wasmtime's <c>DefineWasi()</c>: argv, environment, stdin from
/// the payload in memory (Wasmtime's WASI reads stdin only from a file), stdout/stderr captured per write,
/// clocks, random and <c>proc_exit</c>. There is no file system (no preopens) and no sockets; every other
/// preview 1 function the module imports is defined as returning <c>ENOSYS</c>.
/// </summary>
internal static class WasiPreview1
{
    /// <summary>The import module name.</summary>
    public const string ModuleName = "wasi_snapshot_preview1";

    private const int Success = 0;
    private const int Badf = 8;
    private const int Fault = 21;
    private const int Inval = 28;
    private const int Nospc = 51;
    private const int Nosys = 52;
    private const int Spipe = 70;

    private const int MaxIovecs = 1024;

    /// <summary>Defines the preview 1 functions <paramref name="module"/> imports.</summary>
    /// <param name="linker">The linker (one per provider).</param>
    /// <param name="module">The compiled function.</param>
    /// <param name="current">The call in progress on the execution thread.</param>
    /// <param name="clock">The agent's clock, which the guest's clocks read.</param>
    public static void Define(Linker linker, Module module, Func<WasmCall> current, TimeProvider clock)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        void Def(string name, Action<Linker> define)
        {
            define(linker);
            defined.Add(name);
        }

        Def("args_sizes_get", l => l.DefineFunction(ModuleName, "args_sizes_get", (int countPtr, int sizePtr) => SizesGet(current(), current().ArgumentCount, current().Arguments.Length, countPtr, sizePtr)));
        Def("args_get", l => l.DefineFunction(ModuleName, "args_get", (int pointers, int buffer) => BlockGet(current(), current().Arguments, pointers, buffer)));
        Def("environ_sizes_get", l => l.DefineFunction(ModuleName, "environ_sizes_get", (int countPtr, int sizePtr) => SizesGet(current(), current().EnvironmentCount, current().Environment.Length, countPtr, sizePtr)));
        Def("environ_get", l => l.DefineFunction(ModuleName, "environ_get", (int pointers, int buffer) => BlockGet(current(), current().Environment, pointers, buffer)));
        Def("fd_write", l => l.DefineFunction(ModuleName, "fd_write", (int fd, int iovs, int count, int written) => FdWrite(current(), fd, iovs, count, written)));
        Def("fd_read", l => l.DefineFunction(ModuleName, "fd_read", (int fd, int iovs, int count, int read) => FdRead(current(), fd, iovs, count, read)));
        Def("fd_close", l => l.DefineFunction(ModuleName, "fd_close", (int fd) => fd is >= 0 and <= 2 ? Success : Badf));
        Def("fd_fdstat_get", l => l.DefineFunction(ModuleName, "fd_fdstat_get", (int fd, int stat) => FdstatGet(current(), fd, stat)));
        Def("fd_prestat_get", l => l.DefineFunction(ModuleName, "fd_prestat_get", (int fd, int prestat) => Badf));
        Def("fd_prestat_dir_name", l => l.DefineFunction(ModuleName, "fd_prestat_dir_name", (int fd, int path, int length) => Badf));
        Def("fd_seek", l => l.DefineFunction(ModuleName, "fd_seek", (int fd, long offset, int whence, int newOffset) => fd is >= 0 and <= 2 ? Spipe : Badf));
        Def("clock_time_get", l => l.DefineFunction(ModuleName, "clock_time_get", (int id, long precision, int time) => ClockTimeGet(current(), clock, id, time)));
        Def("clock_res_get", l => l.DefineFunction(ModuleName, "clock_res_get", (int id, int resolution) => Write64(current(), resolution, 1_000)));
        Def("random_get", l => l.DefineFunction(ModuleName, "random_get", (int buffer, int length) => RandomGet(current(), buffer, length)));
        Def("sched_yield", l => l.DefineFunction(ModuleName, "sched_yield", () => Success));
        Def("proc_exit", l => l.DefineFunction(ModuleName, "proc_exit", (Action<int>)(code => ProcExit(current(), code))));

        foreach (var import in module.Imports)
        {
            if (import is FunctionImport function && import.ModuleName == ModuleName && !defined.Contains(import.Name))
            {
                DefineUnsupported(linker, import.Name, function);
            }
        }
    }

    // Entry i of an iovec array ({ptr: u32, len: u32} each), as guest memory; false if out of bounds.
    private static bool TryGetIovec(WasmCall call, int iovs, int i, out Span<byte> data)
    {
        data = default;
        return TryGetSpan(call, iovs + (i * 8), 8, out var iov)
            && TryGetSpan(call, BinaryPrimitives.ReadInt32LittleEndian(iov), BinaryPrimitives.ReadInt32LittleEndian(iov[4..]), out data);
    }

    /// <summary>A guest memory range, or an empty span with false when it is out of bounds.</summary>
    /// <param name="call">The call.</param>
    /// <param name="pointer">Guest address (unsigned 32-bit).</param>
    /// <param name="length">Length (unsigned 32-bit).</param>
    /// <param name="span">The range.</param>
    /// <returns>Whether the range is inside the memory.</returns>
    public static bool TryGetSpan(WasmCall call, int pointer, int length, out Span<byte> span)
    {
        span = default;
        if (call.Memory is not { } memory || length < 0)
        {
            return false;
        }

        var address = (long)(uint)pointer;
        if (address + length > memory.GetLength())
        {
            return false;
        }

        span = memory.GetSpan(address, length);
        return true;
    }

    private static int SizesGet(WasmCall call, int count, int size, int countPtr, int sizePtr)
    {
        if (!TryGetSpan(call, countPtr, 4, out var c))
        {
            return Fault;
        }

        BinaryPrimitives.WriteInt32LittleEndian(c, count);
        if (!TryGetSpan(call, sizePtr, 4, out var s))
        {
            return Fault;
        }

        BinaryPrimitives.WriteInt32LittleEndian(s, size);
        return Success;
    }

    // Copies a NUL-separated block to `buffer` and a pointer to each entry to `pointers`.
    private static int BlockGet(WasmCall call, byte[] block, int pointers, int buffer)
    {
        if (!TryGetSpan(call, buffer, block.Length, out var target))
        {
            return Fault;
        }

        block.CopyTo(target);
        var entry = 0;
        var start = 0;
        for (var i = 0; i < block.Length; i++)
        {
            if (block[i] != 0)
            {
                continue;
            }

            if (!TryGetSpan(call, pointers + (entry * 4), 4, out var slot))
            {
                return Fault;
            }

            BinaryPrimitives.WriteInt32LittleEndian(slot, buffer + start);
            entry++;
            start = i + 1;
        }

        return Success;
    }

    private static int FdWrite(WasmCall call, int fd, int iovs, int count, int written)
    {
        if (fd is not (1 or 2))
        {
            return Badf;
        }

        if (count is < 0 or > MaxIovecs)
        {
            return Inval;
        }

        var total = 0;
        for (var i = 0; i < count; i++)
        {
            if (!TryGetIovec(call, iovs, i, out var data))
            {
                return Fault;
            }

            if (fd == 1)
            {
                if (!call.WriteStdout(data))
                {
                    return Nospc;
                }
            }
            else
            {
                call.WriteStderr(data);
            }

            total += data.Length;
        }

        return Write32(call, written, total);
    }

    private static int FdRead(WasmCall call, int fd, int iovs, int count, int read)
    {
        if (fd != 0)
        {
            return Badf;
        }

        if (count is < 0 or > MaxIovecs)
        {
            return Inval;
        }

        var total = 0;
        for (var i = 0; i < count; i++)
        {
            if (!TryGetIovec(call, iovs, i, out var buffer))
            {
                return Fault;
            }

            var n = call.ReadStdin(buffer);
            total += n;
            if (n < buffer.Length)
            {
                break;
            }
        }

        return Write32(call, read, total);
    }

    // fdstat: filetype u8 @0, flags u16 @2, rights_base u64 @8, rights_inheriting u64 @16. The standard
    // streams are "unknown" (not character devices), so libc buffers stdout fully instead of per line.
    private static int FdstatGet(WasmCall call, int fd, int stat)
    {
        if (fd is < 0 or > 2)
        {
            return Badf;
        }

        if (!TryGetSpan(call, stat, 24, out var s))
        {
            return Fault;
        }

        s.Clear();
        const ulong read = 1UL << 1, write = 1UL << 6, poll = 1UL << 27, fdstatSetFlags = 1UL << 3;
        BinaryPrimitives.WriteUInt64LittleEndian(s[8..], (fd == 0 ? read : write) | poll | fdstatSetFlags);
        return Success;
    }

    private static int ClockTimeGet(WasmCall call, TimeProvider clock, int id, int time)
    {
        long nanoseconds = id switch
        {
            0 => (clock.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100,
            1 or 2 or 3 => (long)(clock.GetTimestamp() * (1_000_000_000.0 / clock.TimestampFrequency)),
            _ => -1,
        };
        return nanoseconds < 0 ? Inval : Write64(call, time, nanoseconds);
    }

    private static int RandomGet(WasmCall call, int buffer, int length)
    {
        if (!TryGetSpan(call, buffer, length, out var target))
        {
            return Fault;
        }

        RandomNumberGenerator.Fill(target);
        return Success;
    }

    private static void ProcExit(WasmCall call, int code)
    {
        call.ExitCode = code;

        // Unwinds the guest: the provider sees the trap, finds ExitCode set and treats it as an exit.
        throw new WasmExitException(code);
    }

    private static int Write32(WasmCall call, int pointer, int value)
    {
        if (!TryGetSpan(call, pointer, 4, out var target))
        {
            return Fault;
        }

        BinaryPrimitives.WriteInt32LittleEndian(target, value);
        return Success;
    }

    private static int Write64(WasmCall call, int pointer, long value)
    {
        if (!TryGetSpan(call, pointer, 8, out var target))
        {
            return Fault;
        }

        BinaryPrimitives.WriteInt64LittleEndian(target, value);
        return Success;
    }

    private static void DefineUnsupported(Linker linker, string name, FunctionImport function)
    {
        var results = function.Results.ToArray();
        linker.DefineFunction(
            ModuleName,
            name,
            (Caller caller, ReadOnlySpan<ValueBox> arguments, Span<ValueBox> returned) =>
            {
                for (var i = 0; i < returned.Length; i++)
                {
                    returned[i] = results[i] == ValueKind.Int64 ? (ValueBox)(long)Nosys : (ValueBox)Nosys;
                }
            },
            function.Parameters.ToArray(),
            results);
    }
}

/// <summary>The guest called <c>proc_exit</c>.</summary>
internal sealed class WasmExitException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WasmExitException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="code">The exit code.</param>
    public WasmExitException(int code)
        : base($"exit status {code}")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public WasmExitException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public WasmExitException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
