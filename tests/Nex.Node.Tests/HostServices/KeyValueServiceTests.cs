using System.Text.Json;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>The kv host service against a real JetStream server (spec §6.3, §6.4, §11 #12, #16).</summary>
public sealed class KeyValueServiceTests(NatsServerFixture nats) : HostServicesTestBase(nats)
{
    private const string Kv = HostServicesProtocol.Kv;

    private static Dictionary<string, string> Key(string key) => Headers((HostServicesProtocol.KeyHeader, key));

    [Fact]
    public async Task SetGetKeysDelete_RoundTrip()
    {
        var hs = await CreateAsync();
        var set = await Call(hs, Kv, "set", Key("greeting"), [9, 8, 7, 6, 5]);
        AssertOk(set);
        var json = Json(set);
        Assert.True(json.GetProperty("success").GetBoolean());
        Assert.True(json.GetProperty("revision").GetUInt64() >= 1);

        var get = await Call(hs, Kv, "get", Key("greeting"));
        AssertOk(get);
        Assert.Equal([9, 8, 7, 6, 5], get.Body);

        var keys = await Call(hs, Kv, "keys");
        AssertOk(keys);
        Assert.Contains("greeting", Json(keys).EnumerateArray().Select(k => k.GetString()));

        var delete = await Call(hs, Kv, "delete", Key("greeting"));
        AssertOk(delete);
        Assert.True(Json(delete).GetProperty("success").GetBoolean());

        var after = await Call(hs, Kv, "get", Key("greeting"));
        Assert.Equal(404, after.Code);
        Assert.Equal("key not found: greeting", after.Message);
    }

    // A key goes into a subject ($KV.<bucket>.<key>): one past nats-server's control line would close the
    // node's whole host-services connection.
    [Fact]
    public async Task AKeyLongerThan1024_Is400_AndTheConnectionStays()
    {
        var hs = await CreateAsync();
        var set = await Call(hs, Kv, "set", Key(new string('k', 4100)), "v"u8.ToArray());
        Assert.Equal(400, set.Code);
        Assert.Equal($"kv: key '{new string('k', 64)}…(4100 characters)' is longer than 1024 characters", set.Message);
        Assert.Equal(200, (await Call(hs, Kv, "set", Key(new string('k', 1024)), "v"u8.ToArray())).Code);
    }

    [Fact]
    public async Task Get_MissingKey_Is404WithRealMessage()
    {
        var hs = await CreateAsync();
        var get = await Call(hs, Kv, "get", Key("nope"));
        Assert.Equal(404, get.Code);
        Assert.Equal("key not found: nope", get.Message);
        Assert.Empty(get.Body);
    }

    [Fact]
    public async Task Keys_EmptyBucket_IsEmptyArray()
    {
        var hs = await CreateAsync();
        var keys = await Call(hs, Kv, "keys");
        AssertOk(keys);
        Assert.Equal("[]", Text(keys));
    }

    [Fact]
    public async Task Keys_AfterEverythingDeleted_IsEmptyArray()
    {
        var hs = await CreateAsync();
        AssertOk(await Call(hs, Kv, "set", Key("gone"), [1]));
        AssertOk(await Call(hs, Kv, "delete", Key("gone")));
        var keys = await Call(hs, Kv, "keys");
        AssertOk(keys);
        Assert.Equal("[]", Text(keys));
    }

    [Fact]
    public async Task MissingKeyHeader_Is400()
    {
        var hs = await CreateAsync();
        var get = await Call(hs, Kv, "get");
        Assert.Equal(400, get.Code);
        Assert.Contains(HostServicesProtocol.KeyHeader, get.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownMethod_Is400()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, Kv, "purge", Key("a"));
        Assert.Equal(400, r.Code);
        Assert.Contains("purge", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JitProvision_CreatesDefaultBucketWithMaxBytes()
    {
        var caller = NewCaller();
        var hs = await CreateAsync(caller);
        AssertOk(await Call(hs, Kv, "set", Key("k"), [1]));

        var kv = new NatsKVContext(new NatsJSContext(Main));
        var store = await kv.GetStoreAsync($"hs_{caller.Namespace}_{caller.WorkloadName}_kv", Ct);
        var status = await store.GetStatusAsync(Ct);
        Assert.Equal(524288, status.Info.Config.MaxBytes);
    }

    [Fact]
    public async Task JitOff_MissingBucket_Is500()
    {
        var hs = await CreateAsync(config: WithService(Kv, configJson: "{\"jit_provision\":false}"));
        var r = await Call(hs, Kv, "get", Key("k"));
        Assert.Equal(500, r.Code);
        Assert.StartsWith("Failed to execute host service method: ", r.Message, StringComparison.Ordinal);
        Assert.Contains("not found", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigPlaceholders_AreReplacedCaseInsensitively()
    {
        var caller = NewCaller();
        var hs = await CreateAsync(caller, WithService(Kv, configJson: "{\"bucket_name\":\"custom_${NAMESPACE}_${Workload_Name}\",\"max_bytes\":1048576}"));
        AssertOk(await Call(hs, Kv, "set", Key("k"), [1]));

        var kv = new NatsKVContext(new NatsJSContext(Main));
        var store = await kv.GetStoreAsync($"custom_{caller.Namespace}_{caller.WorkloadName}", Ct);
        var status = await store.GetStatusAsync(Ct);
        Assert.Equal(1048576, status.Info.Config.MaxBytes);
    }

    [Fact]
    public async Task DifferentWorkloads_CannotReadEachOthersBuckets()
    {
        var a = await CreateAsync(NewCaller("shared", "alpha" + Guid.NewGuid().ToString("N")[..6]));
        var b = await CreateAsync(NewCaller("shared", "beta" + Guid.NewGuid().ToString("N")[..6]));
        AssertOk(await Call(a, Kv, "set", Key("secret"), [42]));

        Assert.Equal(404, (await Call(b, Kv, "get", Key("secret"))).Code);
        Assert.Equal("[]", Text(await Call(b, Kv, "keys")));
    }

    [Fact]
    public async Task SameNamespaceAndName_ShareTheBucket()
    {
        var caller = NewCaller();
        var first = await CreateAsync(caller);
        AssertOk(await Call(first, Kv, "set", Key("persist"), [7]));
        var second = await CreateAsync(caller with { WorkloadId = "other" });
        Assert.Equal([7], (await Call(second, Kv, "get", Key("persist"))).Body);
    }

    [Fact]
    public async Task DisabledService_Is404()
    {
        var hs = await CreateAsync(config: WithService(Kv, enabled: false));
        var r = await Call(hs, Kv, "get", Key("k"));
        Assert.Equal(404, r.Code);
        Assert.Equal("No such host service: kv", r.Message);
    }

    [Fact]
    public async Task UnknownService_Is404()
    {
        var hs = await CreateAsync();
        var r = await Call(hs, "smtp", "send");
        Assert.Equal(404, r.Code);
        Assert.Equal("No such host service: smtp", r.Message);
    }

    [Fact]
    public void BucketSettings_Defaults()
    {
        var caller = new Node.HostServices.HostServiceCaller("id", "default", "echo");
        var s = Node.HostServices.BucketSettings.From(null, "obj", caller);
        Assert.Equal("hs_default_echo_obj", s.Bucket);
        Assert.Equal(524288, s.MaxBytes);
        Assert.True(s.JitProvision);
        var custom = Node.HostServices.BucketSettings.From(JsonDocument.Parse("{\"bucket_name\":\"x_${workload_NAME}\",\"jit_provision\":false}").RootElement, "kv", caller);
        Assert.Equal("x_echo", custom.Bucket);
        Assert.False(custom.JitProvision);
    }
}
