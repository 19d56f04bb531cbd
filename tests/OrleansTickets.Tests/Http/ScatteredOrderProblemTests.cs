using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>An order that no shard can ever fill, with tickets left on drained shards: a definite 409, not 503.</summary>
public sealed class ScatteredOrderProblemTests
{
    [Fact]
    public async Task An_order_larger_than_any_drained_shard_holds_is_409_tickets_scattered_with_the_largest_order()
    {
        using var storage = TestStorage.Sqlite();
        var drains = new ScatteringDrains();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(drains));
        var http = host.Client;
        Assert.Equal(HttpStatusCode.Created, (await http.CreateEventAsync("scattered", capacity: 9, shards: 3, maxPerOrder: 4)).StatusCode);
        await drains.DrainAsync("scattered", "ga", shards: 3, async index =>
        {
            var drained = await (await http.PostAsync($"/api/events/scattered/ticket-types/ga/shards/{index}/drain", null)).JsonAsync();
            Assert.Equal((0L, 3L), (drained.GetProperty("moved").GetInt64(), drained.GetProperty("left").GetInt64()));
        });

        var refused = await http.OrderAsync("scattered", 4, key: "four");

        var problem = await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.Conflict, "tickets-scattered");
        Assert.Equal(3L, problem.GetProperty("largestOrder").GetInt64());
        Assert.False(refused.Headers.Contains("Retry-After"));
        Assert.Equal(0L, await http.SoldAsync("scattered"));
        // The order the answer allows makes it. With a new key: the refused purchase may keep its own (README), as it
        // does when the dispatcher first tried to pull the order together from its view, before a refresh showed
        // every shard drained.
        Assert.Equal(HttpStatusCode.Created, (await http.OrderAsync("scattered", 3, key: "three")).StatusCode);
        Assert.Equal(3L, await http.SoldAsync("scattered"));
    }
}
