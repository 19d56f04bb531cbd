using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
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
        using var storage = TestStorage.Sqlite();
        var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Api:Shutdown:Drain"] = "00:00:04" });
        // A client of its own: the host's client is disposed with the host.
        using var balancer = new HttpClient { BaseAddress = host.Client.BaseAddress };
        Task stop;
        var clock = Stopwatch.StartNew();
        try
        {
            Assert.Equal(HttpStatusCode.Created, (await balancer.CreateEventAsync("draining", capacity: 10, shards: 1)).StatusCode);
            // The drain is added to the stop's budget, not taken from it.
            Assert.Equal(Silo.Hosting.SiloHostingExtensions.ShutdownTimeout + TimeSpan.FromSeconds(4),
                host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);

            host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            stop = host.Services.GetRequiredService<IHost>().StopAsync();
            await Task.Delay(300);

            var ready = await balancer.GetAsync("/health/ready");
            await ApiContractTests.AssertProblemAsync(ready, HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.Equal("1", ready.Headers.GetValues("Retry-After").Single());
            Assert.True(ready.Headers.ConnectionClose);
            // A buyer that reaches it meanwhile is sent elsewhere, on a connection that closes, and nothing is sold.
            var purchase = await balancer.OrderAsync("draining", 1, key: "drain-1");
            await ApiContractTests.AssertProblemAsync(purchase, HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.True(purchase.Headers.ConnectionClose);
            Assert.False(stop.IsCompleted);
            await stop.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            await host.DisposeAsync();
        }
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(4), $"The stop ended after {clock.Elapsed}, before its drain.");
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(0, await again.Client.SoldAsync("draining"));
    }
}
