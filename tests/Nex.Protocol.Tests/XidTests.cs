using Xunit;

namespace Nex.Protocol.Tests;

public class XidTests
{
    [Fact]
    public void NewId_has_xid_shape()
    {
        var id = Xid.NewId();

        Assert.Equal(20, id.Length);
        Assert.Matches("^[0-9a-v]{20}$", id);
        Assert.True(Xid.IsValid(id));
    }

    [Fact]
    public void Embeds_the_current_time()
    {
        var before = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var id = Xid.NewId();
        var after = DateTimeOffset.UtcNow;

        Assert.True(Xid.TryGetTime(id, out var time));
        Assert.InRange(time, before, after);
    }

    [Fact]
    public void Encoding_matches_rs_xid_reference_vector()
    {
        // From github.com/rs/xid tests: ID{0x4d, 0x88, 0xe1, 0x5b, 0x60, 0xf4, 0x86, 0xe4, 0x28, 0x41, 0x2d, 0xc9} => "9m4e2mr0ui3e8a215n4g".
        byte[] raw = [0x4d, 0x88, 0xe1, 0x5b, 0x60, 0xf4, 0x86, 0xe4, 0x28, 0x41, 0x2d, 0xc9];

        Assert.Equal("9m4e2mr0ui3e8a215n4g", Xid.Encode(raw));
        Assert.True(Xid.TryDecode("9m4e2mr0ui3e8a215n4g", out var decoded));
        Assert.Equal(raw, decoded);
        Assert.True(Xid.TryGetTime("9m4e2mr0ui3e8a215n4g", out var time));
        Assert.Equal(0x4d88e15bL, time.ToUnixTimeSeconds());
    }

    [Fact]
    public void Ids_are_unique_across_threads()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 2000; i++)
            {
                ids.Add(Xid.NewId());
            }
        });

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Sequential_ids_sort_in_creation_order()
    {
        var ids = Enumerable.Range(0, 5000).Select(_ => Xid.NewId()).ToList();

        // Only a 24-bit counter wrap-around (at most once here) may break the order.
        var descents = ids.Zip(ids.Skip(1)).Count(p => string.CompareOrdinal(p.First, p.Second) >= 0);
        Assert.True(descents <= 1, $"{descents} out-of-order pairs");
    }

    [Fact]
    public void Ids_built_with_increasing_counters_sort_ordinally()
    {
        var first = Xid.Encode(Xid.Build(1_700_000_000, 0x00FFFE));
        var second = Xid.Encode(Xid.Build(1_700_000_000, 0x00FFFF));
        var third = Xid.Encode(Xid.Build(1_700_000_000, 0x010000));
        var later = Xid.Encode(Xid.Build(1_700_000_001, 0));

        Assert.True(string.CompareOrdinal(first, second) < 0);
        Assert.True(string.CompareOrdinal(second, third) < 0);
        Assert.True(string.CompareOrdinal(third, later) < 0);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("9m4e2mr0ui3e8a215n4")]
    [InlineData("9m4e2mr0ui3e8a215n4gx")]
    [InlineData("9M4E2MR0UI3E8A215N4G")]
    [InlineData("9m4e2mr0ui3e8a215n4w")]
    [InlineData("9m4e2mr0ui3e8a215n4h")]
    public void IsValid_rejects_malformed(string? id)
    {
        Assert.False(Xid.IsValid(id));
    }
}
