using System.Text.Json;
using Xunit;

namespace Nex.Protocol.Tests.Control;

public class AutostartTests
{
    [Fact]
    public void Reads_autostart_config_with_plain_string_location()
    {
        var json = """
            {"workloads":[{"name":"echofunctionjs","namespace":"default","description":"js fn","essential":false,"type":"v8",
              "location":"nats://NEXCLIFILES/echofunctionjs","jsdomain":"","environment":{"NATS_URL":"nats://127.0.0.1:4222"},
              "trigger_subjects":["js.echo"]}]}
            """;

        var config = JsonSerializer.Deserialize(json, NexJson.Context.AutostartConfig)!;

        var workload = Assert.Single(config.Workloads);
        Assert.Equal("echofunctionjs", workload.Name);
        Assert.Equal("default", workload.Namespace);
        Assert.Equal("v8", workload.Type);
        Assert.Equal("nats://NEXCLIFILES/echofunctionjs", workload.Location);
        Assert.Equal("echofunctionjs", WorkloadLocation.Parse(workload.Location).Key);
        Assert.Equal("nats://127.0.0.1:4222", workload.Environment["NATS_URL"]);
        Assert.Equal(["js.echo"], workload.TriggerSubjects!);
        Assert.Null(workload.Argv);

        var back = JsonSerializer.Serialize(config, NexJson.Context.AutostartConfig);
        JsonAssert.EquivalentJson(json, back);
    }

    [Fact]
    public void Empty_autostart_config_has_no_workloads()
    {
        Assert.Empty(JsonSerializer.Deserialize("{}", NexJson.Context.AutostartConfig)!.Workloads);
        Assert.Empty(JsonSerializer.Deserialize("""{"workloads":null}""", NexJson.Context.AutostartConfig)!.Workloads);
        Assert.Equal(
            """{"name":"","namespace":"","essential":false,"type":"","location":"","environment":{}}""",
            JsonSerializer.Serialize(new AutostartDeployRequest(), NexJson.Context.AutostartDeployRequest));
    }
}
