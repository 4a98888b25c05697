using System.Text.Json;
using Nex.Protocol;
using Nex.Security;
using Xunit;

namespace Nex.Client.Tests;

/// <summary>
/// The DEPLOY JSON <see cref="WorkloadRequests.BuildDeploy"/> produces, pinned byte for byte as the 17-parameter
/// builder produced it before <see cref="DeploySpec"/> replaced it (fixed keys and clock; the sealed environment has
/// a random nonce, so it is compared opened).
/// </summary>
public sealed class DeployWirePinTests
{
    private const string IssuerSeed = "SAAF5W3375DPFHLAD2FHZPQVLT6LOFBJQ6KWZV4W5MY2FJL253F4KY2UJQ";
    private const string SenderSeed = "SXABJSKIFMPVFFZNH547AWPNM7ZJK2CNRFUERN73RFWYPEKUCO2NYK5XNQ";
    private const string NodeSeed = "SXAHLREHFY45PQCOWZ36YMWAXQHG3UJ6W3WZPMAGPR2A3GQ4HZ6ADA4P5M";
    private static readonly TimeProvider Time = new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_719_900_000));

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void Minimal_NullsOnly_IsTheOldWire()
    {
        const string expected = """
        {"description":"","type":"native","location":{"Scheme":"nats","Opaque":"","User":null,"Host":"NEXCLIFILES","Path":"/echoservice","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""},"essential":false,"workload_jwt":"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiI2M000UkpHQVpYTzdRSklBTzRMVU9aNktXN0dHVlAzTEdZTkxPUFE3M0tPWjJZNU9aVE1RIiwiaWF0IjoxNzE5OTAwMDAwLCJpc3MiOiJBRDVTTFEyRjdLWTNXVUJNQ0xLTjZLSUxXRzRWRUo0WUlOVUlEUk1EUlpQUEdSNUFGQ0ZGQkVRRiIsInN1YiI6ImVjaG9zZXJ2aWNlIiwibmF0cyI6eyJoYXNoIjoiYWJjMTIzNDVUT0RPbWFrZXRoaXNyZWFsIiwidmVyc2lvbiI6Mn19.2sIAS7KOqFYDrEM2qZoTKeqhzYMwFmojyTwiXu_02ttSjeY6SNRcWTiWae2r0lfDkSSrWZL6wqaiUjhFvqSZDA","environment":"","jsdomain":"","sender_public_key":"XDE2FDGE3SYUJIYRUU57YXMBY7ZEUQ3AO5OAU3U2BMOO3UYLP6IWYF3B","target_node":"NNODE"}
        """;
        Assert.Equal(expected, Build(Spec("echoservice", WorkloadTypes.Native)));
    }

    [Fact]
    public void EmptyLists_AreOmitted_AsBefore()
    {
        const string expected = """
        {"description":"","type":"native","location":{"Scheme":"nats","Opaque":"","User":null,"Host":"NEXCLIFILES","Path":"/echoservice","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""},"essential":false,"workload_jwt":"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiI2M000UkpHQVpYTzdRSklBTzRMVU9aNktXN0dHVlAzTEdZTkxPUFE3M0tPWjJZNU9aVE1RIiwiaWF0IjoxNzE5OTAwMDAwLCJpc3MiOiJBRDVTTFEyRjdLWTNXVUJNQ0xLTjZLSUxXRzRWRUo0WUlOVUlEUk1EUlpQUEdSNUFGQ0ZGQkVRRiIsInN1YiI6ImVjaG9zZXJ2aWNlIiwibmF0cyI6eyJoYXNoIjoiYWJjMTIzNDVUT0RPbWFrZXRoaXNyZWFsIiwidmVyc2lvbiI6Mn19.2sIAS7KOqFYDrEM2qZoTKeqhzYMwFmojyTwiXu_02ttSjeY6SNRcWTiWae2r0lfDkSSrWZL6wqaiUjhFvqSZDA","environment":"","jsdomain":"","sender_public_key":"XDE2FDGE3SYUJIYRUU57YXMBY7ZEUQ3AO5OAU3U2BMOO3UYLP6IWYF3B","target_node":"NNODE"}
        """;
        Assert.Equal(expected, Build(Spec("echoservice", WorkloadTypes.Native) with
        {
            Environment = new Dictionary<string, string>(),
            Argv = [],
            Triggers = [],
            TriggerQueueGroup = "",
        }));
    }

    [Fact]
    public void EveryField_IsTheOldWire_HostServicesIncluded()
    {
        const string expected = """
        {"argv":["-v","x"],"description":"desc","type":"v8","location":{"Scheme":"nats","Opaque":"","User":null,"Host":"NEXCLIFILES","Path":"/echojs","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""},"essential":true,"workload_jwt":"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJJNTdMTlBVRks2UlBLTkJNQ0dXNEJUN05VV0VRWlFLUVFOTlRFUkZGM1ZDSkZJT0lUSTVRIiwiaWF0IjoxNzE5OTAwMDAwLCJpc3MiOiJBRDVTTFEyRjdLWTNXVUJNQ0xLTjZLSUxXRzRWRUo0WUlOVUlEUk1EUlpQUEdSNUFGQ0ZGQkVRRiIsInN1YiI6ImVjaG9qcyIsIm5hdHMiOnsiaGFzaCI6ImFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWEiLCJ2ZXJzaW9uIjoyfX0.DumkX7m-nL8LRzkTWTcnQixv34-zoSeicrumuHLhcbyDARTINYjsdkVaIYzquqeK4mqU5zTMXlGyBbaOyBUbCw","environment":"A=1=2,B=","jsdomain":"hub","sender_public_key":"XDE2FDGE3SYUJIYRUU57YXMBY7ZEUQ3AO5OAU3U2BMOO3UYLP6IWYF3B","target_node":"NNODE","trigger_subjects":["echo.\u003E","b"],"host_services":{"nats_url":"nats://h:1","nats_user_jwt":"jwt","nats_user_seed":"seed"},"function_timeout_ms":2000,"trigger_queue_group":"workers"}
        """;
        Assert.Equal(expected, Build(Spec("echojs", WorkloadTypes.V8) with
        {
            Environment = new Dictionary<string, string> { ["B"] = "", ["A"] = "1=2" },
            Description = "desc",
            Argv = ["-v", "x"],
            Essential = true,
            Triggers = ["echo.>", "b"],
            JsDomain = "hub",
            Hash = new string('a', 64),
            FunctionTimeoutMs = 2000,
            TriggerQueueGroup = "workers",
            HostServices = new NatsJwtConnectionInfo { NatsUrl = "nats://h:1", NatsUserJwt = "jwt", NatsUserSeed = "seed" },
        }));
    }

    private static DeploySpec Spec(string name, string type) => new()
    {
        Location = WorkloadLocation.ForObject("NEXCLIFILES", name),
        Name = name,
        Type = type,
    };

    private static string Build(DeploySpec spec)
    {
        using var issuer = NexKeys.FromSeed(IssuerSeed);
        using var sender = NexKeys.FromSeed(SenderSeed);
        using var node = NexKeys.FromSeed(NodeSeed);
        var request = WorkloadRequests.BuildDeploy(spec, "NNODE", node.GetPublicKey(), issuer, sender, Time);
        var json = JsonSerializer.SerializeToNode(request, NexJson.Context.DeployRequest)!.AsObject();
        var env = EnvironmentCipher.Decrypt(json["environment"]!.GetValue<string>(), node, request.SenderPublicKey);
        json["environment"] = string.Join(",", env.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}"));
        return json.ToJsonString();
    }
}
