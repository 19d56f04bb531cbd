using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansTickets.Api;
using OrleansTickets.Silo.Hosting;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// A load balancer's view of a server: ready while it serves, and, when it stops with a drain, still listening for the
/// drain while it says it is stopping and sends every buyer back through the balancer.
/// </summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task A_serving_server_is_ready_and_a_head_gets_the_same_status()
    {
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage);

        var ready = await host.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", (await ready.JsonAsync()).GetProperty("status").GetString());
        Assert.False(ready.Headers.ConnectionClose ?? false);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/health/ready"))).StatusCode);
    }

    [Fact]
    public async Task A_stop_with_a_drain_keeps_listening_says_it_is_stopping_and_closes_every_connection_until_the_drain_ends()
    {
        var drain = TimeSpan.FromSeconds(8);
        using var storage = TestStorage.Sqlite();
        var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Api:Shutdown:Drain"] = drain.ToString() });
        // A client of its own: the host's client is disposed with the host.
        using var balancer = new HttpClient { BaseAddress = host.Client.BaseAddress };
        TimeSpan stopped;
        try
        {
            Assert.Equal(HttpStatusCode.Created, (await balancer.CreateEventAsync("draining", capacity: 10, shards: 1)).StatusCode);
            // The drain is added to the stop's budget, not taken from it.
            Assert.Equal(SiloHostingExtensions.ShutdownTimeout + drain,
                host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

            // Stopped by its owner, not by a signal: the drain itself marks the stop begun.
            var clock = Stopwatch.StartNew();
            var stop = host.Services.GetRequiredService<IHost>().StopAsync();
            // Asked until the stop has begun (a slow machine may take a moment to start it), well inside the 8 s drain.
            HttpResponseMessage ready = null!;
            await Poll.UntilAsync(async () => (ready = await balancer.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK,
                attempts: 100, delayMilliseconds: 50, failure: "Readiness never said the server is stopping.");
            await ApiContractTests.AssertProblemAsync(ready, HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.Equal("1", ready.Headers.GetValues("Retry-After").Single());
            Assert.True(ready.Headers.ConnectionClose);
            // A buyer that reaches it meanwhile is sent elsewhere, on a connection that closes, and nothing is sold.
            var purchase = await balancer.OrderAsync("draining", 1, key: "drain-1");
            await ApiContractTests.AssertProblemAsync(purchase, HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.True(purchase.Headers.ConnectionClose);
            await stop.WaitAsync(TimeSpan.FromSeconds(60));
            stopped = clock.Elapsed;
        }
        finally
        {
            await host.DisposeAsync();
        }
        // Less a margin: the delay's timer runs on the coarse clock.
        Assert.True(stopped >= drain - TimeSpan.FromMilliseconds(50), $"The stop ended after {stopped}, before its drain of {drain}.");
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(0, await again.Client.SoldAsync("draining"));
    }

    [Fact]
    public async Task A_drain_out_of_range_is_reported_when_the_host_starts_not_thrown_while_it_is_built()
    {
        // Built first, as silo/Program.cs does before RunUntilStopped, which turns a failed start into a line and exit
        // code 1: a setting read while building would crash the process instead ("15" binds as fifteen days).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Api:Shutdown:Drain"] = "15" });
        builder.Services.AddTicketingApi();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        Assert.Equal(TimeSpan.FromSeconds(30), app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("Api:Shutdown:Drain", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_silo_starts_its_services_one_after_another_whatever_the_configuration_says()
    {
        // With servicesStartConcurrently from the configuration, Orleans could read its membership table before the
        // schema step made it, and the silo could join its cluster while the rehearsal still ran.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["servicesStartConcurrently"] = "true" });
        builder.AddTicketingSilo();
        await using var app = builder.Build();

        Assert.False(app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ServicesStartConcurrently);
    }
}
