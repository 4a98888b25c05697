using Nex.Agent.Providers.V8;
using Xunit;

namespace Nex.Agent.Tests.V8;

/// <summary>
/// ES module scripts: the module's <c>export default</c> is the function, in the shapes tooling emits,
/// beside 0.2's completion-value form; a module that imports other modules is refused at deploy.
/// </summary>
public sealed class V8ModuleTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("export default function (subject, payload) { return { subject, n: payload.length, fn: typeof this.hostServices.kv.get }; }")]
    [InlineData("export default async (subject, payload) => { await null; return { subject, n: payload.length, fn: typeof hostServices.kv.get }; };")]
    [InlineData("""
        // src/index.js
        var index_default = async (subject, payload) => {
          return { subject, n: payload.length, fn: typeof globalThis.hostServices.kv.get };
        };
        export {
          index_default as default
        };
        """)]
    [InlineData("const helper = (p) => p.length;\nexport const other = 1;\nexport default function handler(subject, payload) { return { subject, n: helper(payload), fn: typeof hostServices.kv.get }; }")]
    public async Task DefaultExport_IsTheFunction(string source)
    {
        await using var fn = await V8Harness.StartAsync(source, Token);
        Assert.Equal("""{"subject":"a.b","n":3,"fn":"function"}""", await fn.CallAsync("a.b", "xyz", Token));
    }

    // Each call still gets a fresh context: module state does not carry over.
    [Fact]
    public async Task ModuleState_IsFreshPerCall()
    {
        await using var fn = await V8Harness.StartAsync("let n = 0;\nexport default () => ++n;", Token);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("1", await fn.CallAsync("t", "", Token));
        }
    }

    // A 0.2 script that is also valid module syntax keeps 0.2's meaning (its completion value).
    [Fact]
    public async Task ScriptForm_IsUnchanged()
    {
        await using var fn = await V8Harness.StartAsync("var x = 2;\n(s, p) => ({ x, self: this === globalThis })", Token);
        Assert.Equal("""{"x":2,"self":true}""", await fn.CallAsync("t", "", Token));
    }

    [Theory]
    [InlineData("import { helper } from './helper.js';\nexport default (s, p) => helper(p);", "'./helper.js'")]
    [InlineData("import 'node:fs';\nexport default (s, p) => 1;", "'node:fs'")]
    public async Task ModuleWithAnImport_IsRefusedAtDeploy(string source, string specifier)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => V8Harness.StartAsync(source, Token));
        Assert.Contains("a function cannot import other modules", ex.Message, StringComparison.Ordinal);
        Assert.Contains(specifier, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    // A dynamic import() reaches the same loader when the function runs (module or 0.2 script): the call
    // fails with the same line.
    [Theory]
    [InlineData("export default async (s, p) => (await import('./x.js')).default;")]
    [InlineData("async (s, p) => (await import('./x.js')).default")]
    public async Task DynamicImport_FailsTheCall(string source)
    {
        await using var fn = await V8Harness.StartAsync(source, Token);
        var result = await fn.Provider.ExecuteAsync("t", default, Token);
        Assert.NotNull(result);
        Assert.Contains("a function cannot import other modules (it imports './x.js')", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("export const handler = (s, p) => 1;", "default")]
    [InlineData("export default 42;", "the module's default export must be a function")]
    [InlineData("export default (s, p) => {", "SyntaxError")]
    [InlineData("(s, p) => {", "SyntaxError")]
    public async Task BadModules_AreRefusedAtDeploy_WithOneLine(string source, string fragment)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => V8Harness.StartAsync(source, Token));
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
    }

    // Every example (0.2 scripts and ES modules) compiles and binds its function.
    [Fact]
    public async Task EveryJsExample_Deploys()
    {
        var files = Directory.GetFiles(Path.Combine(Nex.Testing.Examples.RepositoryRoot, "examples", "js"), "*.js");
        Assert.Contains(files, f => f.EndsWith("echo-module.js", StringComparison.Ordinal));
        foreach (var file in files)
        {
            await using var fn = await V8Harness.StartAsync(await File.ReadAllTextAsync(file, Token), Token);
        }

        await using var module = await V8Harness.StartAsync(await File.ReadAllTextAsync(files.Single(f => f.EndsWith("echo-module.js", StringComparison.Ordinal)), Token), Token);
        Assert.Equal("""{"triggered_on":"hello","payload":"hello wörld","module":true}""", await module.CallAsync("hello", "hello wörld", Token));
    }

    // Modules compile once per lane and are instantiated per context: the per-call cost stays that of a script.
    [Fact]
    public async Task Module_ManyCalls_Answer()
    {
        await using var fn = await V8Harness.StartAsync("export default (s, p) => s;", Token);
        var calls = Enumerable.Range(0, 50).Select(i => fn.CallAsync($"s{i}", "", Token)).ToArray();
        var results = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"\"s{i}\""), results);
    }
}
