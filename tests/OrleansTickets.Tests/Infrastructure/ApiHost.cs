using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Api;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Silo.Hosting;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The real HTTP API listening on a loopback port with Kestrel, so tests speak real HTTP to it: either a silo with
/// the API co-hosted (built by the same extension methods as silo/Program.cs), or a separate front end (an Orleans
/// client, as api/FrontEndProgram.cs builds it).
/// </summary>
public sealed class ApiHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ApiHost(WebApplication app, Uri address)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = address };
    }

    public HttpClient Client { get; }

    /// <summary>The host's services, for what only the process can see (the rehearsal's report).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// A silo with the API co-hosted, on its own free silo and gateway ports; <paramref name="services"/> adds to the
    /// process's services (a grain call filter that plays a failure, say).
    /// </summary>
    public static async Task<ApiHost> StartAsync(
        TestStorage storage, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var ports = new Dictionary<string, string?>
            {
                ["Cluster:SiloPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
                ["Cluster:GatewayPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            };
            var host = await TryStartAsync([storage.Settings, settings ?? new Dictionary<string, string?>(), ports], builder =>
            {
                builder.AddTicketingSilo();
                services?.Invoke(builder.Services);
            }, StartTimeout);
            if (host is not null) return host;
            // See TicketingCluster.StartAsync: a silo's start was once seen waiting forever on Orleans' in-memory
            // membership table. The stuck host is left to stop in the background, and one more is started.
            if (attempt == 2) throw new TimeoutException($"The host did not start within {StartTimeout}, twice.");
        }
    }

    /// <summary>The API alone, as a front end that reaches the cluster described by <paramref name="settings"/>.</summary>
    public static async Task<ApiHost> StartFrontEndAsync(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services = null) =>
        (await TryStartAsync([settings], builder =>
        {
            builder.AddTicketingFrontEnd();
            services?.Invoke(builder.Services);
        }, Timeout.InfiniteTimeSpan))!;

    /// <summary>A start takes seconds; this is for one that never ends.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The started host, or null when it had not started within <paramref name="within"/>.</summary>
    private static async Task<ApiHost?> TryStartAsync(
        IReadOnlyDictionary<string, string?>[] settings, Action<WebApplicationBuilder> configure, TimeSpan within)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        // The test folder holds the silo's shipped appsettings.json, which turns the on-sale rehearsal on; a test
        // host rehearses only when its settings ask for it.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Rehearsal:Enabled"] = "false" });
        foreach (var layer in settings) builder.Configuration.AddInMemoryCollection(layer);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        configure(builder);
        var app = builder.Build();
        app.MapTicketingApi();
        var start = app.StartAsync();
        if (await Task.WhenAny(start, Task.Delay(within)) != start)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await app.DisposeAsync().AsTask().WaitAsync(within);
                }
                catch (Exception)
                {
                    // A host that never started may not stop either; the test process ends it.
                }
            });
            return null;
        }
        await start;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ApiHost(app, new Uri(address));
    }

    /// <summary>Stops the process's host as SIGTERM would: the web server first, then the silo.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
