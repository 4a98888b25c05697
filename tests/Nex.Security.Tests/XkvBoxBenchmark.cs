using System.Diagnostics;
using Xunit;

namespace Nex.Security.Tests;

/// <summary>
/// µs per xkv1 seal/open, for comparing box implementations on one machine. Skipped unless <c>NEX_BENCH=1</c>
/// (a timing loop proves nothing on a shared, loaded CI machine); run it with
/// <c>NEX_BENCH=1 dotnet test tests/Nex.Security.Tests -c Release --filter "FullyQualifiedName~XkvBoxBenchmark"</c>
/// and read the test output.
/// </summary>
public class XkvBoxBenchmark(ITestOutputHelper output)
{
    public static bool Enabled => Environment.GetEnvironmentVariable("NEX_BENCH") == "1";

    [Fact(Skip = "set NEX_BENCH=1 to measure", SkipUnless = nameof(Enabled))]
    public void SealAndOpen_MicrosecondsPerOperation()
    {
        var sender = NexKeys.CreateCurve();
        var node = NexKeys.CreateCurve();
        foreach (var size in new[] { 100, 64 * 1024 })
        {
            var plaintext = new byte[size];
            var boxed = EnvironmentCipher.Seal(plaintext, sender, node.GetPublicKey());
            EnvironmentCipher.Open(boxed, node, sender.GetPublicKey()); // warm both directions' cached box keys
            var iterations = size > 1024 ? 2_000 : 20_000;
            var seal = Measure(iterations, () => EnvironmentCipher.Seal(plaintext, sender, node.GetPublicKey()));
            var open = Measure(iterations, () => EnvironmentCipher.Open(boxed, node, sender.GetPublicKey()));
            output.WriteLine($"{size,6} B  seal {seal,8:F2} µs  open {open,8:F2} µs  (box key cached)");
        }

        // A first contact: a sender the node has not seen costs the X25519 and HSalsa20 of the box key.
        var senders = Enumerable.Range(0, 200).Select(_ => NexKeys.CreateCurve()).ToArray();
        var sealedBySenders = senders.Select(s => EnvironmentCipher.Seal(new byte[100], s, node.GetPublicKey())).ToArray();
        var index = 0;
        var first = Measure(senders.Length, () =>
        {
            var i = index++;
            EnvironmentCipher.Open(sealedBySenders[i], node, senders[i].GetPublicKey());
        });
        output.WriteLine($"   100 B  open from a new sender {first,8:F2} µs  (box key computed)");
    }

    private static double Measure(int iterations, Action action)
    {
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
        {
            action();
        }

        return watch.Elapsed.TotalMicroseconds / iterations;
    }
}
