using System.Text;
using Xunit;

namespace Nex.Protocol.Tests;

/// <summary>Namespaces, names and every token we build into a subject: valid, and short enough to fit.</summary>
public sealed class SubjectTokenTests
{
    // nats-server's default max_control_line: a longer PUB line makes the server close the connection.
    private const int MaxControlLine = 4096;

    private static readonly string Node = "N" + new string('A', 55); // a server nkey is 56 characters
    private static readonly string Longest = new('n', SubjectToken.MaxLength);

    [Theory]
    [InlineData("default", true)]
    [InlineData("Team_a-1", true)]
    [InlineData("*", false)]
    [InlineData(">", false)]
    [InlineData("a*b", false)]
    [InlineData("$SYS", false)]
    [InlineData("a.b", false)]
    [InlineData("a b", false)]
    [InlineData("", false)]
    [InlineData("ünï", false)]
    [InlineData(null, false)]
    public void IsValidName_IsTheWorkloadNameRule_AlsoSafeInBucketNames(string? ns, bool valid)
    {
        Assert.Equal(valid, SubjectToken.IsValidName(ns));
        Assert.Equal(valid, SubjectToken.NamespaceProblem(ns) is null);
    }

    [Fact]
    public void IsValidName_AllowsAtMost64Characters()
    {
        Assert.True(SubjectToken.IsValidName(Longest));
        Assert.False(SubjectToken.IsValidName(Longest + "n"));
        Assert.Equal(
            $"namespace '{Longest}…(4100 characters)' does not match requirements (^[a-zA-Z0-9_-]{{1,64}}$)",
            SubjectToken.NamespaceProblem(new string('n', 4100)));
    }

    [Theory]
    [InlineData("abc", true)]
    [InlineData("a:b", true)]
    [InlineData("a.b", false)]
    [InlineData("*", false)]
    [InlineData(">", false)]
    [InlineData("a\tb", false)]
    [InlineData("", false)]
    public void IsValid_IsOneLiteralSubjectToken(string token, bool valid) => Assert.Equal(valid, SubjectToken.IsValid(token));

    [Fact]
    public void Builders_RefuseDottedWildcardAndOverlongTokens()
    {
        Assert.Throws<ArgumentException>(() => NexSubjects.Deploy("a.b", Node));
        Assert.Throws<ArgumentException>(() => NexSubjects.Deploy("*", Node));
        Assert.Throws<ArgumentException>(() => NexSubjects.Stop(">", Node));
        Assert.Throws<ArgumentException>(() => NexSubjects.Deploy("default", "N.X"));
        Assert.Throws<ArgumentException>(() => NexSubjects.Log("default", Node, new string('w', 4100), "id"));
        Assert.Throws<ArgumentException>(() => AgentSubjects.Trigger("id.x"));
        Assert.Throws<ArgumentException>(() => AgentSubjects.HostServicesRpc("id", "default", "a.b", "kv", "get"));
        var ex = Assert.Throws<ArgumentException>(() => NexSubjects.Event(new string('n', 100), "x"));
        Assert.StartsWith($"namespace '{new string('n', 64)}…(100 characters)' is not a valid subject token", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Builders_KeepTheirSubscriptionWildcards()
    {
        Assert.Equal("$NEX.events.*.*", NexSubjects.Event("*", "*"));
        Assert.Equal($"$NEX.logs.default.*.*.*", NexSubjects.Log("default", "*", "*", "*"));
        Assert.Equal($"$NEX.DEPLOY.*.{Node}", NexSubjects.DeployPattern(Node));
        Assert.Equal("$NEX.WPING.*", NexSubjects.WPing("*"));
    }

    [Fact]
    public void TheLongestSubjectsWeBuild_FitTheServersControlLine()
    {
        var id = Xid.NewId();
        string[] subjects =
        [
            NexSubjects.Log(Longest, Node, Longest, id),
            NexSubjects.Deploy(Longest, Node),
            NexSubjects.WPing(Longest, Longest),
            AgentSubjects.HostServicesRpc(id, Longest, Longest, "objectstore", "list"),
        ];

        foreach (var subject in subjects)
        {
            // "PUB <subject> <reply inbox> <size>\r\n", with a generous reply subject.
            var line = Encoding.UTF8.GetByteCount($"PUB {subject} _INBOX.{new string('x', 64)} 1048576\r\n");
            Assert.True(line < MaxControlLine / 10, $"{line} bytes: {subject}");
        }
    }
}
