using System.Globalization;
using System.Text;

namespace Nex.Node.Machines.MicroVm;

/// <summary>
/// Writes a <c>newc</c> cpio archive, the format the Linux kernel unpacks as its initramfs. Entries are
/// written in the order given; timestamps are 0 and inode numbers sequential, so the same entries give
/// the same bytes.
/// </summary>
internal sealed class CpioWriter(Stream output)
{
    private uint _inode = 1;
    private long _written;

    /// <summary>A directory.</summary>
    public void Directory(string path, int mode = 0b111_101_101) => Entry(path, 0x4000 | mode, []);

    /// <summary>A regular file.</summary>
    public void File(string path, ReadOnlySpan<byte> content, int mode = 0b110_100_100) => Entry(path, 0x8000 | mode, content);

    /// <summary>A symbolic link.</summary>
    public void Symlink(string path, string target) => Entry(path, 0xA000 | 0b111_111_111, Encoding.UTF8.GetBytes(target));

    /// <summary>Writes the trailer; the archive is complete.</summary>
    public void Finish() => Entry("TRAILER!!!", 0, [], trailer: true);

    private void Entry(string path, int mode, ReadOnlySpan<byte> content, bool trailer = false)
    {
        var name = Encoding.UTF8.GetBytes(path.TrimStart('/') + "\0");
        var header = string.Create(CultureInfo.InvariantCulture, $"070701{(trailer ? 0 : _inode++):X8}{mode:X8}{0:X8}{0:X8}{1:X8}{0:X8}{content.Length:X8}{0:X8}{0:X8}{0:X8}{0:X8}{name.Length:X8}{0:X8}");
        Write(Encoding.ASCII.GetBytes(header));
        Write(name);
        Pad();
        Write(content);
        Pad();
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        output.Write(bytes);
        _written += bytes.Length;
    }

    private void Pad()
    {
        var pad = (int)((4 - (_written % 4)) % 4);
        if (pad > 0)
        {
            Write(new byte[pad]);
        }
    }
}
