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
}
