using System.Text.Json;
using Nex.Node.HostServices;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>The messaging host service's subject policy, as NATS user permissions decide (issue 15 item 1).</summary>
public sealed class MessagingPermissionsTests
{
    private static MessagingPermissions Parse(string json)
    {
        var permissions = MessagingPermissions.Parse(JsonDocument.Parse(json).RootElement.Clone(), out var error);
        Assert.Null(error);
        return permissions;
    }

    private static string? ParseError(string json)
    {
        MessagingPermissions.Parse(JsonDocument.Parse(json).RootElement.Clone(), out var error);
        return error;
    }

    [Theory]
    [InlineData("$JS.API.DIRECT.GET.KV_hs_ns_other_kv")]
    [InlineData("$JS.API.STREAM.NAMES")]
    [InlineData("$KV.hs_ns_other_kv.key")]
    [InlineData("$O.hs_ns_other_obj.M.x")]
    [InlineData("$NEX.LAMEDUCK.NABCDEF")]
    [InlineData("$SYS.REQ.SERVER.PING")]
    [InlineData("$SRV.PING")]
    [InlineData("$G")]
    [InlineData("_INBOX.x")]
    [InlineData("_INBOX.abc.def")]
    [InlineData("_INBOXES.x")]
    [InlineData("_INBOX_app.reply")]
    public void SystemSubjects_AreRefused_ByDefault_AndEvenWhenAllowListed(string subject)
    {
        var refused = MessagingPermissions.Default.Check(subject);
        Assert.NotNull(refused);
        Assert.Equal(403, refused.Value.Code);
        Assert.Equal($"messaging: subject '{subject}' is not allowed for workloads", refused.Value.Message);

        // '>' covers everything, yet system subjects stay closed: no setting lifts them.
        Assert.NotNull(Parse("""{"allow":[">"]}""").Check(subject));
    }

    [Fact]
    public void ASubjectLongerThan1024_Is400() =>
        Assert.Equal(400, MessagingPermissions.Default.Check(new string('s', 1025))!.Value.Code);

    [Theory]
    [InlineData("orders.new")]
    [InlineData("foo")]
    [InlineData("_inbox.lowercase")]
    [InlineData("a.$JS.b")]
    public void OrdinarySubjects_AreAllowed_ByDefault(string subject) =>
        Assert.Null(MessagingPermissions.Default.Check(subject));

    [Theory]
    [InlineData("foo.*")]
    [InlineData("foo.>")]
    [InlineData(">")]
    [InlineData("$KV.>")]
    [InlineData("$JS.API.>")]
    public void Wildcards_AreRefused_As400(string subject)
    {
        var refused = MessagingPermissions.Default.Check(subject);
        Assert.Equal((400, $"messaging: subject '{subject}' must not contain wildcards"), refused);
    }

    [Theory]
    [InlineData("foo..bar")]
    [InlineData("foo bar")]
    [InlineData(".foo")]
    public void InvalidSubjects_AreRefused_As400(string subject) =>
        Assert.Equal((400, $"messaging: '{subject}' is not a valid subject"), MessagingPermissions.Default.Check(subject));

    [Theory]
    [InlineData("orders.new", true)]
    [InlineData("orders.eu.new", true)]
    [InlineData("orders.secret.x", false)] // deny wins over allow
    [InlineData("billing.x", false)] // not in the allow list
    [InlineData("metrics.cpu", true)]
    [InlineData("metrics.cpu.x", false)] // '*' is one token
    public void AllowAndDeny_WorkLikeNatsPermissions(string subject, bool allowed)
    {
        var permissions = Parse("""{"allow":["orders.>","metrics.*"],"deny":["orders.secret.>"]}""");
        Assert.Equal(allowed, permissions.Check(subject) is null);
    }

    [Fact]
    public void DenyOnly_RefusesItsSubjects_AndAllowsTheRest()
    {
        var permissions = Parse("""{"deny":["internal.>", "admin"]}""");
        Assert.NotNull(permissions.Check("internal.reset"));
        Assert.NotNull(permissions.Check("admin"));
        Assert.Null(permissions.Check("admin.x"));
        Assert.Null(permissions.Check("public.x"));
    }

    [Theory]
    [InlineData("""{"allow":"orders.>"}""", "allow must be an array of strings")]
    [InlineData("""{"deny":[1]}""", "deny must be an array of non-empty strings")]
    [InlineData("""{"deny":[""]}""", "deny must be an array of non-empty strings")]
    [InlineData("""{"allow":["foo..bar"]}""", "'foo..bar' in allow is not a valid subject")]
    [InlineData("""{"deny":["foo.>.bar"]}""", "'foo.>.bar' in deny is not a valid subject")]
    [InlineData("""{"allow":["$JS.API.>"]}""", "'$JS.API.>' in allow names system subjects, which workloads never reach")]
    [InlineData("""{"allow":["_INBOX.>"]}""", "'_INBOX.>' in allow names system subjects, which workloads never reach")]
    public void MalformedLists_AreOneLineErrors(string json, string expected) =>
        Assert.Equal(expected, ParseError(json));

    [Fact]
    public void NoConfig_IsTheDefault()
    {
        var permissions = MessagingPermissions.Parse(null, out var error);
        Assert.Null(error);
        Assert.Empty(permissions.Allow);
        Assert.Empty(permissions.Deny);
    }
}
