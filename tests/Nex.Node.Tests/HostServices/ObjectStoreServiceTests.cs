using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>The objectstore host service against a real JetStream server (spec §6.3, §11 #12).</summary>
public sealed class ObjectStoreServiceTests(NatsServerFixture nats) : HostServicesTestBase(nats)
{
    private const string Obj = HostServicesProtocol.ObjectStore;

    private static Dictionary<string, string> Name(string name) => Headers((HostServicesProtocol.ObjectNameHeader, name));

    [Fact]
    public async Task PutGetListDelete_RoundTrip()
    {
        var caller = NewCaller();
        var hs = await CreateAsync(caller);
        var put = await Call(hs, Obj, "put", Name("blob"), [100, 101, 102]);
        AssertOk(put);
        var info = Json(put);
        Assert.Equal("blob", info.GetProperty("name").GetString());
        Assert.Equal(3, info.GetProperty("size").GetInt64());
        Assert.Equal($"hs_{caller.Namespace}_{caller.WorkloadName}_obj", info.GetProperty("bucket").GetString());
        Assert.False(string.IsNullOrEmpty(info.GetProperty("nuid").GetString()));
        Assert.Equal(1, info.GetProperty("chunks").GetInt32());
        Assert.StartsWith("SHA-256=", info.GetProperty("digest").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.TryParse(info.GetProperty("mtime").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));

        var get = await Call(hs, Obj, "get", Name("blob"));
        AssertOk(get);
        Assert.Equal([100, 101, 102], get.Body);

        var list = await Call(hs, Obj, "list");
        AssertOk(list);
        var item = Assert.Single(Json(list).EnumerateArray());
        Assert.Equal("blob", item.GetProperty("name").GetString());
        Assert.Equal(3, item.GetProperty("size").GetInt64());

        var delete = await Call(hs, Obj, "delete", Name("blob"));
        AssertOk(delete);
        Assert.True(Json(delete).GetProperty("success").GetBoolean());

        var after = await Call(hs, Obj, "get", Name("blob"));
        Assert.Equal(404, after.Code);
        Assert.Equal("object not found: blob", after.Message);
    }

    [Fact]
    public async Task List_EmptyBucket_IsEmptyArray()
    {
        var hs = await CreateAsync();
        var list = await Call(hs, Obj, "list");
        AssertOk(list);
        Assert.Equal("[]", Text(list));
    }

    [Fact]
    public async Task List_AfterEverythingDeleted_IsEmptyArray()
    {
        var hs = await CreateAsync();
        AssertOk(await Call(hs, Obj, "put", Name("gone"), [1]));
        AssertOk(await Call(hs, Obj, "delete", Name("gone")));
        var list = await Call(hs, Obj, "list");
        AssertOk(list);
        Assert.Equal("[]", Text(list));
    }

    [Fact]
    public async Task ANameLongerThan1024_Is400()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Obj, "get", Name(new string('n', 4100)));
        Assert.Equal(400, r.Code);
        Assert.Contains("is longer than 1024 characters", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_Missing_Is404()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Obj, "get", Name("ghost"));
        Assert.Equal(404, r.Code);
    }

    [Fact]
    public async Task MissingNameHeader_Is400_UnknownMethod_Is400()
    {
        var hs = await CreateAsync();
        Assert.Equal(400, (await Call(hs, Obj, "put", body: [1])).Code);
        Assert.Equal(400, (await Call(hs, Obj, "watch", Name("x"))).Code);
    }

    [Fact]
    public async Task DifferentWorkloads_AreIsolated()
    {
        var a = await CreateAsync();
        var b = await CreateAsync();
        AssertOk(await Call(a, Obj, "put", Name("mine"), [1, 2]));
        Assert.Equal(404, (await Call(b, Obj, "get", Name("mine"))).Code);
        Assert.Equal("[]", Text(await Call(b, Obj, "list")));
    }

    [Fact]
    public async Task Disabled_Is404()
    {
        var hs = await CreateAsync(config: WithService(Obj, enabled: false));
        var r = await Call(hs, Obj, "list");
        Assert.Equal(404, r.Code);
        Assert.Equal("No such host service: objectstore", r.Message);
    }
}
