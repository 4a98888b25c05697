using System.Text;
using Nex.Agent.Providers.V8;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>The per-context language features V8EngineFlags turns off are really off in a function's context.</summary>
public sealed class V8EngineFlagsTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NewerFeaturesNotIn02_AreOff_TheLanguageOf02IsThere()
    {
        const string Probe = """
            (s, p) => ({
              float16: typeof Float16Array,
              base64: typeof Uint8Array.fromBase64,
              upsert: typeof Map.prototype.getOrInsert,
              concat: typeof Iterator.concat,
              promise: typeof Promise, json: typeof JSON.stringify, typed: typeof Uint8Array, intl: typeof Intl,
            })
            """;
        await using var fn = await V8Harness.StartAsync(Probe, Token);
        var result = await fn.Provider.ExecuteAsync("probe", "x"u8.ToArray(), Token);
        Assert.NotNull(result);
        var text = Encoding.UTF8.GetString(result.Data.Span);
        Assert.Equal(
            """{"float16":"undefined","base64":"undefined","upsert":"undefined","concat":"undefined","promise":"function","json":"function","typed":"function","intl":"object"}""",
            text);
    }
}
