using Xunit;

namespace Nex.Protocol.Tests;

public class SubjectMatcherTests
{
    [Theory]
    [InlineData("$SYS.this.is.a.test", "$SYS.>", true)]
    [InlineData("$JS.foo.bar", "$JS.>", true)]
    [InlineData("bob.test", "$SYS.>", false)]
    [InlineData("bob.test", "$JS.>", false)]
    [InlineData("bob.test", "$NEX.>", false)]
    [InlineData("$NEX.x", "$NEX.>", true)]
    [InlineData("$SYS.foo", "$SYS.>", true)]
    [InlineData("$SYS", "$SYS.>", false)]
    [InlineData("foo.*", "foo.bar", true)]
    [InlineData("foo.>", "foo.*", true)]
    [InlineData("foo", "foo.>", false)]
    [InlineData("foo.bar", "foo.bar", true)]
    [InlineData("foo.bar", "foo.baz", false)]
    [InlineData("foo.*", "foo.bar.baz", false)]
    [InlineData("foo.*", "*.bar", true)]
    [InlineData("foo.*.baz", "*.bar.*", true)]
    [InlineData("foo.*", "bar.*", false)]
    [InlineData("foo.*.*", "foo.*", false)]
    [InlineData("foo.>", "foo.bar.*", true)]
    [InlineData(">", "anything.at.all", true)]
    [InlineData(">", "*", true)]
    [InlineData("*", "foo.bar", false)]
    [InlineData("*.>", "foo", false)]
    [InlineData("foo.bar.>", "foo.*", false)]
    [InlineData("$JS.>", "$JS.API.>", true)]
    public void Collides_like_nats_server(string a, string b, bool expected)
    {
        Assert.Equal(expected, SubjectMatcher.Collides(a, b));
        Assert.Equal(expected, SubjectMatcher.Collides(b, a));
    }

    [Theory]
    [InlineData("foo.bar", "foo.bar", true)]
    [InlineData("foo.bar", "foo.*", true)]
    [InlineData("foo.bar", "foo.>", true)]
    [InlineData("foo.bar.baz", "foo.>", true)]
    [InlineData("foo", "foo.>", false)]
    [InlineData("foo", ">", true)]
    [InlineData("foo.bar.baz", "foo.*", false)]
    [InlineData("foo.bar", "*.bar", true)]
    [InlineData("foo.bar", "foo.baz", false)]
    [InlineData("$JS.API.STREAM.NAMES", "$JS.>", true)]
    [InlineData("$JS.API.STREAM.NAMES", "$JS.API.*", false)]
    [InlineData("$KV.hs_a_b_kv.key", "$KV.*.*", true)]
    [InlineData("foo.*", "foo.*", false)]
    [InlineData("foo.>", ">", false)]
    [InlineData("foo.bar", "foo.*x", false)]
    [InlineData("foo.*x", "foo.*x", true)]
    [InlineData("foo.bar", "foo.>.baz", false)]
    public void Matches_a_literal_subject_like_a_nats_permission(string subject, string pattern, bool expected)
    {
        Assert.Equal(expected, SubjectMatcher.Matches(subject, pattern));
    }

    [Theory]
    [InlineData("foo", true, true)]
    [InlineData("foo.bar.baz", true, true)]
    [InlineData("$NEX.PING", true, true)]
    [InlineData("foo.*", true, false)]
    [InlineData("foo.>", true, false)]
    [InlineData(">", true, false)]
    [InlineData("*.bar", true, false)]
    [InlineData("foo*.bar", true, true)]
    [InlineData("foo.>.bar", false, false)]
    [InlineData("", false, false)]
    [InlineData("foo..bar", false, false)]
    [InlineData(".foo", false, false)]
    [InlineData("foo.", false, false)]
    [InlineData("foo bar", false, false)]
    [InlineData("foo.\tbar", false, false)]
    [InlineData("foo. ", false, false)]
    public void IsValidSubject_follows_nats_rules(string subject, bool validWithWildcards, bool validLiteral)
    {
        Assert.Equal(validWithWildcards, SubjectMatcher.IsValidSubject(subject, allowWildcards: true));
        Assert.Equal(validLiteral, SubjectMatcher.IsValidSubject(subject, allowWildcards: false));
    }

    [Fact]
    public void IsValidSubject_handles_null()
    {
        Assert.False(SubjectMatcher.IsValidSubject(null, allowWildcards: true));
    }
}
