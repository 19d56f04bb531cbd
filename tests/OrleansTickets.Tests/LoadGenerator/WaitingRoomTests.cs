using System.Net;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>Buyers in the load generator's waiting room talk to the real API and buy nothing.</summary>
public sealed class WaitingRoomTests
{
    [Fact]
    public async Task Buyers_in_the_waiting_room_load_the_page_and_leave_every_ticket_unsold()
    {
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("waiting", capacity: 50, shards: 2)).StatusCode);

        var answers = await WaitingRoom.WaitAsync([new TicketingApiClient(host.Client)], "/api/events/waiting", "/api/events/waiting/orders",
            buyers: 4, TimeSpan.FromSeconds(1), CancellationToken.None);

        // The page loads; the order for a type that is not on sale is refused. Nothing else.
        Assert.Equal(["200", "404"], answers.Keys);
        Assert.True(answers["200"] >= 4 && answers["404"] >= 4, string.Join(", ", answers));
        var ga = (await (await host.Client.GetAsync("/api/events/waiting/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((0L, 50L), (ga.GetProperty("sold").GetInt64(), ga.GetProperty("remaining").GetInt64()));
    }

    [Fact]
    public async Task Each_buyer_loads_the_page_once_even_when_the_wait_is_over_before_it_starts()
    {
        // On a busy machine a buyer's task can start after a short wait has ended; it then opened no connection at all,
        // and the sale's first requests paid for it (and a CI run's 1 s wait once got no answer from any buyer).
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("no-wait", capacity: 10, shards: 1)).StatusCode);

        var answers = await WaitingRoom.WaitAsync([new TicketingApiClient(host.Client)], "/api/events/no-wait", "/api/events/no-wait/orders",
            buyers: 3, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(new SortedDictionary<string, long> { ["200"] = 3, ["404"] = 3 }, answers);
    }
}
