using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Nex.Node.Config;
using Nex.Node.HostServices;
using Nex.Protocol;
using Nex.Testing;
using Xunit;

namespace Nex.Node.Tests.HostServices;

/// <summary>Shared plumbing: a main connection to the fixture server and workloads with unique names.</summary>
public abstract class HostServicesTestBase(NatsServerFixture nats) : IAsyncLifetime
{
    private readonly List<WorkloadHostServices> _created = [];
    private readonly List<HostHttpClient> _clients = [];

    protected NatsConnection Main { get; private set; } = null!;

    protected string NatsUrl => nats.Url;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public virtual async ValueTask InitializeAsync()
    {
        Main = new NatsConnection(NatsOpts.Default with { Url = nats.Url, Name = "hs-test-main" });
        await Main.ConnectAsync();
    }

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var services in _created)
        {
            await services.DisposeAsync();
        }

        await Main.DisposeAsync();
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }

    internal static HostServiceCaller NewCaller(string? ns = null, string? name = null)
    {
        var id = Guid.NewGuid().ToString("N");
        return new HostServiceCaller(id[..20], ns ?? "ns" + id[..6], name ?? "wl" + id[6..12]);
    }

    internal async Task<WorkloadHostServices> CreateAsync(
        HostServiceCaller? caller = null,
        HostServicesConfig? config = null,
        bool nullConfig = false,
        NatsJwtConnectionInfo? requestHostServices = null,
        NatsJwtConnectionInfo? trigger = null)
    {
        // As the node does: one HTTP client built from the same config (its destination policy).
        var effective = nullConfig ? null : config ?? HostServicesConfig.Default;
        var http = HostHttpClient.From(effective);
        _clients.Add(http);
        var services = await WorkloadHostServices.CreateAsync(
            effective,
            caller ?? NewCaller(),
            requestHostServices,
            trigger,
            Main,
            http,
            NullLoggerFactory.Instance,
            Ct);
        _created.Add(services);
        return services;
    }

    internal static HostServicesConfig WithService(string name, bool enabled = true, string? configJson = null)
    {
        var map = new Dictionary<string, HostServiceSettings>(HostServicesConfig.Default.Services)
        {
            [name] = new HostServiceSettings
            {
                Enabled = enabled,
                Config = configJson is null ? null : JsonDocument.Parse(configJson).RootElement.Clone(),
            },
        };
        return HostServicesConfig.Default with { Services = map };
    }

    internal static Dictionary<string, string> Headers(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Value);

    internal static Task<HostServiceResponse> Call(WorkloadHostServices hs, string service, string method, Dictionary<string, string>? headers = null, byte[]? body = null) =>
        hs.HandleAsync(service, method, headers ?? [], body ?? [], Ct);

    internal static void AssertOk(HostServiceResponse response)
    {
        Assert.True(response.Code == 200, $"expected 200, got {response.Code}: {response.Message}");
        Assert.Equal("OK", response.Message);
    }

    internal static JsonElement Json(HostServiceResponse response) => JsonDocument.Parse(response.Body).RootElement.Clone();

    internal static string Text(HostServiceResponse response) => Encoding.UTF8.GetString(response.Body);
}
