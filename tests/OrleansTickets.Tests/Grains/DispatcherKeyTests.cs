using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>A dispatcher serves the one ticket type its key names: a request for another is a caller's bug, refused.</summary>
public sealed class DispatcherKeyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_dispatcher_refuses_a_purchase_of_another_type_or_of_no_tickets_and_sells_nothing()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("two-types", TicketingCluster.Type("ga", capacity: 10, shards: 2), TicketingCluster.Type("vip", capacity: 10, shards: 1));
        var ga = cluster.Client.GetGrain<IPurchaseDispatcherGrain>("two-types/ga");
        var buyer = new Buyer("Ada", "ada@example.com");

        // Taken first, the other type's layout would have been this activation's for every later buyer of ga.
        await Assert.ThrowsAsync<ArgumentException>(() => ga.Purchase(new PurchaseRequest("two-types", "vip", 1, buyer, "wrong-type")));
        await Assert.ThrowsAsync<ArgumentException>(() => ga.Purchase(new PurchaseRequest("two", "types/ga", 1, buyer, null)));
        await Assert.ThrowsAsync<ArgumentException>(() => ga.Purchase(new PurchaseRequest("two-types", "ga", 0, buyer, null)));

        var sold = await ga.Purchase(new PurchaseRequest("two-types", "ga", 2, buyer, "right-type"));
        Assert.Equal(PurchaseStatus.Created, sold.Status);
        var types = (await cluster.SalesAsync("two-types")).TicketTypes;
        Assert.Equal((2L, 0L), (types.Single(t => t.Id == "ga").Sold, types.Single(t => t.Id == "vip").Sold));
    }
}
